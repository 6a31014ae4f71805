/**
 * Helpers shared by the stack files (this folder holds no stacks).
 */
import type { Secret } from "sst/constructs/Secret.js";
import {
  getBindingEnvironments,
  getBindingPermissions,
  type BindingResource,
} from "sst/constructs/util/binding.js";
import { PolicyStatement, type IGrantable } from "aws-cdk-lib/aws-iam";

/** Browsers upload raw sensor files here (presigned PUT); S3 notifies IngestQueue for this prefix. */
export const UPLOAD_PREFIX = "uploads/";

/** Log retention of every function and container, matching the app-wide function default. */
export const LOG_RETENTION = "one_month" as const;

/**
 * SST grants `ssm:GetParameters` for a bound secret; core/config.ts reads it
 * with `GetParameter` (singular), which IAM authorizes separately. Same two
 * parameters (stage value and `.fallback`), nothing wider.
 */
export function secretReadAccess(secrets: Secret[]): PolicyStatement[] {
  const resources = secrets.flatMap((secret) =>
    getBindingPermissions(secret).flatMap((statement) => statement.resources),
  );
  if (resources.length === 0) return [];
  return [new PolicyStatement({ actions: ["ssm:GetParameter"], resources })];
}

/**
 * SST's `bind` for compute that is not an SST Function (container-image
 * Lambdas, Fargate tasks): the same SST_<Construct>_<prop>_<id> environment
 * variables and the same IAM statements SST would attach.
 */
export function bindToCompute(
  resources: BindingResource[],
  grantee: IGrantable,
  addEnvironment: (name: string, value: string) => void,
): void {
  for (const resource of resources) {
    for (const [name, value] of Object.entries(getBindingEnvironments(resource))) {
      addEnvironment(name, value);
    }
    for (const statement of getBindingPermissions(resource)) {
      grantee.grantPrincipal.addToPrincipalPolicy(statement);
    }
  }
}
