/**
 * A pool's sessions: which engine holds each session's conversation (its KV cache, or for
 * LMDeploy's interactive sessions its state), in the pool's SQLite so they survive eviction.
 * The table is created by its first write, so a pool nobody uses stores nothing; it keeps the
 * `MAX_SESSIONS` most recently used, trimmed once it grows 10% past that.
 */
const MAX_SESSIONS = 100_000;

export class PoolSessions {
  private readonly sql: SqlStorage;
  private exists: boolean;
  private sinceTrim = 0;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    this.exists =
      sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'").toArray().length > 0;
  }

  engineOf(sessionKey: string): string | undefined {
    if (!this.exists) return undefined;
    return this.sql
      .exec<{ engine_key: string }>('SELECT engine_key FROM sessions WHERE session_key = ?', sessionKey)
      .toArray()[0]?.engine_key;
  }

  remember(sessionKey: string, engineKey: string): void {
    if (!this.exists) {
      this.sql.exec(
        'CREATE TABLE IF NOT EXISTS sessions (session_key TEXT PRIMARY KEY, engine_key TEXT NOT NULL, used_at INTEGER NOT NULL)',
      );
      this.exists = true;
    }
    // An upsert writes one row; INSERT OR REPLACE would write the row and its key index.
    this.sql.exec(
      `INSERT INTO sessions (session_key, engine_key, used_at) VALUES (?, ?, ?)
         ON CONFLICT (session_key) DO UPDATE SET engine_key = excluded.engine_key, used_at = excluded.used_at`,
      sessionKey,
      engineKey,
      Date.now(),
    );
    // However many sessions arrive, the table stays within 10% of its bound.
    if (++this.sinceTrim > MAX_SESSIONS / 10) this.trim();
  }

  private trim(): void {
    this.sinceTrim = 0;
    this.sql.exec(
      `DELETE FROM sessions WHERE session_key NOT IN
         (SELECT session_key FROM sessions ORDER BY used_at DESC LIMIT ?)`,
      MAX_SESSIONS,
    );
  }
}
