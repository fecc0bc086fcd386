import type { Kysely, Transaction } from 'kysely';
import type { AuditRow, Database } from './schema';
import type { LibContext } from './context';

export interface AuditEntry {
  readonly verb: string;
  readonly targetUserId?: number | null;
  readonly targetNickname?: string | null;
  /** What changed. Never a password, token or hash: callers pass counts, flags and ids. */
  readonly details?: Record<string, unknown>;
}

/** Writes the audit row inside the caller's transaction, so the row exists exactly when the change does. */
export async function writeAudit(trx: Transaction<Database> | Kysely<Database>, ctx: LibContext, entry: AuditEntry): Promise<void> {
  await trx
    .insertInto('audit_log')
    .values({
      at: ctx.now(),
      actor: ctx.actor,
      verb: entry.verb,
      target_user_id: entry.targetUserId ?? null,
      target_nickname: entry.targetNickname ?? null,
      reason: ctx.reason ?? null,
      details: JSON.stringify(entry.details ?? {}),
    })
    .execute();
}

export interface AuditFilter {
  readonly userId?: number;
  readonly nickname?: string;
  readonly verb?: string;
  readonly since?: Date;
  readonly limit?: number;
}

export interface AuditRecord {
  readonly id: number;
  readonly at: Date;
  readonly actor: string;
  readonly verb: string;
  readonly targetUserId: number | null;
  readonly targetNickname: string | null;
  readonly reason: string | null;
  readonly details: unknown;
}

export function auditRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    verb: row.verb,
    targetUserId: row.target_user_id,
    targetNickname: row.target_nickname,
    reason: row.reason,
    details: row.details,
  };
}

/** Audit rows oldest first, filtered. */
export async function listAudit(db: Kysely<Database>, filter: AuditFilter = {}): Promise<AuditRecord[]> {
  let query = db.selectFrom('audit_log').selectAll().orderBy('id');
  if (filter.userId !== undefined || filter.nickname !== undefined) {
    const { userId, nickname } = filter;
    query = query.where((eb) => {
      const ors = [];
      if (userId !== undefined) ors.push(eb('target_user_id', '=', userId));
      if (nickname !== undefined) ors.push(eb(eb.fn('lower', ['target_nickname']), '=', nickname.toLowerCase()));
      return eb.or(ors);
    });
  }
  if (filter.verb !== undefined) query = query.where('verb', '=', filter.verb);
  if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
  if (filter.limit !== undefined) query = query.limit(filter.limit);
  return (await query.execute()).map(auditRecord);
}
