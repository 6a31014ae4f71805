import { StaticSite, use, type StackContext } from "sst/constructs";
import { Duration, Fn, RemovalPolicy } from "aws-cdk-lib";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import { HttpOrigin, S3Origin } from "aws-cdk-lib/aws-cloudfront-origins";
import { BlockPublicAccess, Bucket, BucketEncryption } from "aws-cdk-lib/aws-s3";
import {
  CACHE_CONTROL,
  DOCS_PATH,
  FIXED_HEADERS,
  HASHED_ASSETS_DIR,
  HSTS_MAX_AGE_SECONDS,
  contentSecurityPolicy,
  type Page,
} from "../core/web/headers";
import { Api } from "./Api";
import { Realtime } from "./Realtime";
import { Storage } from "./Storage";
import { API_PATH_PATTERNS, VIEWER_REQUEST_CODE } from "./lib/web-routing";

/**
 * The dashboard (web/) as a StaticSite, with the HTTP API behind the same
 * CloudFront distribution: one origin for the browser, so the refresh cookie
 * (SameSite=Strict, Path=/api/v1/auth) reaches the API and the pages' CSP
 * needs only 'self' for it. The security headers come from core/web/headers.ts,
 * as on the local runtime.
 */
export function Web({ stack }: StackContext) {
  const { api } = use(Api);
  const { realtime } = use(Realtime);
  const dataFiles = use(Storage).bucket;

  // The live channel and the bucket (presigned uploads go straight to it) are other hosts: connect-src names them.
  const connectSources = [realtime.cdk.webSocketApi.apiEndpoint, `https://${dataFiles.cdk.bucket.bucketRegionalDomainName}`];
  const headersPolicy = (id: string, page: Page) =>
    new cloudfront.ResponseHeadersPolicy(stack, id, {
      comment: `Flint ${page} pages: CSP and security headers (core/web/headers.ts)`,
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: contentSecurityPolicy(page, connectSources), override: true },
        contentTypeOptions: { override: true },
        // The enums' values are the header values themselves.
        frameOptions: { frameOption: FIXED_HEADERS["X-Frame-Options"] as cloudfront.HeadersFrameOption, override: true },
        referrerPolicy: { referrerPolicy: FIXED_HEADERS["Referrer-Policy"] as cloudfront.HeadersReferrerPolicy, override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.seconds(HSTS_MAX_AGE_SECONDS), includeSubdomains: true, override: true },
      },
      customHeadersBehavior: {
        customHeaders: (["Permissions-Policy", "Cross-Origin-Opener-Policy"] as const).map((header) => ({
          header,
          value: FIXED_HEADERS[header],
          override: true,
        })),
      },
    });

  // One bucket origin for the dashboard and the docs behaviours (a bucket SST creates would need a second origin).
  const bucket = new Bucket(stack, "WebFiles", {
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    encryption: BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    // Every deploy uploads the build again: nothing here to keep.
    removalPolicy: RemovalPolicy.DESTROY,
    autoDeleteObjects: true,
  });
  const files = new S3Origin(bucket);
  // Replaces SST's own routing function (still created, never associated): that one appends ".html" to extensionless paths.
  const viewerRequest = new cloudfront.Function(stack, "WebRouting", { code: cloudfront.FunctionCode.fromInline(VIEWER_REQUEST_CODE) });
  const pageBehavior = (page: Page): cloudfront.BehaviorOptions => ({
    origin: files,
    viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
    responseHeadersPolicy: headersPolicy(page === "docs" ? "DocsHeaders" : "DashboardHeaders", page),
    functionAssociations: [{ function: viewerRequest, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
  });

  const apiOrigin = new HttpOrigin(Fn.parseDomainName(api.url), { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY });
  const apiBehavior: cloudfront.BehaviorOptions = {
    origin: apiOrigin,
    // No redirect: a POST redirected to https comes back as a GET.
    viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
    allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
    cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
    // Authorization, cookies, query strings and bodies as sent; API Gateway needs its own Host.
    originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
  };

  const site = new StaticSite(stack, "Dashboard", {
    path: "web",
    // web/vite.config.ts builds it; the dependencies are the root package's (npx finds them up the tree).
    buildCommand: "npx vite build --config vite.config.ts",
    buildOutput: "dist",
    // Build-time placeholder, replaced in the uploaded files at deploy (the URL is known only then).
    environment: { VITE_WS_URL: realtime.url },
    // SST writes a typing of that environment for Vite sites; web/src is the dashboard's, so it goes to SST's own folder.
    vite: { types: "../.sst/web/sst-env.d.ts" },
    // As on the local runtime: only hashed files are immutable (SST's default makes every .js and .css so, /docs/init.js too).
    assets: {
      fileOptions: [
        { files: "**", cacheControl: CACHE_CONTROL.other },
        { files: `${HASHED_ASSETS_DIR}/**`, cacheControl: CACHE_CONTROL.hashed },
      ],
    },
    cdk: {
      bucket,
      distribution: {
        comment: "Flint dashboard and API",
        defaultBehavior: pageBehavior("dashboard"),
        additionalBehaviors: {
          [`${DOCS_PATH}/*`]: pageBehavior("docs"),
          ...Object.fromEntries(API_PATH_PATTERNS.map((pattern) => [pattern, apiBehavior])),
        },
        // No error pages: they are distribution-wide and would turn the API's 403 and 404 answers into the dashboard.
        errorResponses: [],
      },
    },
  });

  // No URL under `sst dev`, which does not deploy the site.
  if (site.url) stack.addOutputs({ DashboardUrl: site.url });

  return { site };
}
