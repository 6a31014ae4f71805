/**
 * The single table as one ElectroDB Service over its entities, so a
 * transaction can write any of them: `Table.transaction.write(({ user, usage }) => [...]).go()`.
 * Imports entity files only (see core/README.md), so every module may use it.
 * The realtime connection and subscription records are not in it: nothing
 * writes them in a transaction.
 */
import { Service } from "electrodb";
import { AuditEntity } from "./audit/entity";
import { RateLimitEntity } from "./auth/entity";
import { StripeEventEntity, SubscriptionEntity, TokenLedgerEntity, TokenUsageEntity, UsageCounterEntity } from "./billing/entities";
import { MfaChallengeEntity, ResetTokenEntity, SessionEntity, VerificationEntity } from "./credentials/entities";
import { DatasetEntity, PendingUploadEntity } from "./dataset/entity";
import { DeploymentEntity, TargetEntity, TargetSlotEntity } from "./deployment/entities";
import { EvaluationEntity } from "./evaluation/entity";
import { ModelEntity } from "./model/entity";
import { SecretEntity, SecretNameEntity } from "./secrets/entity";
import { TenantEntity } from "./tenant/entity";
import { EpochEntity } from "./training/entities/epoch";
import { QueueEntryEntity } from "./training/entities/queue-entry";
import { TrainingRunEntity } from "./training/entities/run";
import { SlotEntity } from "./training/entities/slot";
import { EmailEntity, PreferencesEntity, PushTokenEntity, UserEntity, UsernameEntity } from "./user/entities";
import { DeliveryEntity } from "./webhook/delivery-entity";
import { WebhookEntity } from "./webhook/entity";

export const Table = new Service({
  tenant: TenantEntity,
  user: UserEntity,
  username: UsernameEntity,
  email: EmailEntity,
  preferences: PreferencesEntity,
  pushToken: PushTokenEntity,
  session: SessionEntity,
  verification: VerificationEntity,
  resetToken: ResetTokenEntity,
  mfaChallenge: MfaChallengeEntity,
  rateLimit: RateLimitEntity,
  audit: AuditEntity,
  usage: UsageCounterEntity,
  subscription: SubscriptionEntity,
  tokenUsage: TokenUsageEntity,
  tokenLedger: TokenLedgerEntity,
  stripeEvent: StripeEventEntity,
  dataset: DatasetEntity,
  pending: PendingUploadEntity,
  model: ModelEntity,
  evaluation: EvaluationEntity,
  run: TrainingRunEntity,
  slot: SlotEntity,
  queue: QueueEntryEntity,
  epoch: EpochEntity,
  deployment: DeploymentEntity,
  target: TargetEntity,
  targetSlot: TargetSlotEntity,
  webhook: WebhookEntity,
  delivery: DeliveryEntity,
  secret: SecretEntity,
  secretName: SecretNameEntity,
});
