/**
 * Schema of the HSA ledger, one entry per version (tracked with `PRAGMA user_version`). Append
 * only: never edit a migration that has shipped. Kept in one file so the lead can move it into
 * the shared database later.
 */
export const LEDGER_MIGRATIONS: readonly string[] = [
  `CREATE TABLE receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patient TEXT NOT NULL,
    provider TEXT,
    service_date TEXT,
    amount_cents INTEGER,
    currency TEXT NOT NULL DEFAULT 'USD',
    tax_cents INTEGER,
    category TEXT NOT NULL DEFAULT 'other',
    needs_review INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'unclaimed' CHECK (status IN ('unclaimed','submitted','reimbursed')),
    reimbursed_cents INTEGER,
    notes TEXT,
    source_transport TEXT,
    source_chat TEXT,
    source_message TEXT,
    raw_ocr_text TEXT,
    parse_json TEXT,
    image_sha256 TEXT NOT NULL UNIQUE,
    image_ref TEXT NOT NULL,
    image_missing INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX receipts_date ON receipts(service_date);
  CREATE INDEX receipts_patient ON receipts(patient);
  CREATE INDEX receipts_dup ON receipts(provider, service_date, amount_cents);`,
];
