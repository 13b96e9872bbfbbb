package model

import (
	"fmt"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// All returns one value of every model, in creation order.
func All() []any {
	return []any{
		&Union{}, &Member{}, &WeChatAccount{}, &MedicalRecord{}, &PolicyVersion{},
		&SettlementRun{}, &PayoutLine{}, &Transfer{}, &PaymentBatch{},
		&Notification{}, &AdminUser{}, &AuditLog{}, &ImportBatch{}, &FAQEntry{},
		&Job{}, &JobChunk{}, &BotQuestion{}, &Claim{}, &ClaimDocument{},
	}
}

// migrations are the schema's versions, applied in order and recorded in schema_migrations.
// A released migration is never edited: a change to a model needs a new migration with explicit
// steps (TestSchemaMatchesModels fails until it exists).
func migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{{
		ID: "20261122_0001_initial",
		Migrate: func(tx *gorm.DB) error {
			return tx.Migrator().CreateTable(All()...)
		},
		Rollback: func(tx *gorm.DB) error {
			all := All()
			for i := len(all) - 1; i >= 0; i-- {
				if err := tx.Migrator().DropTable(all[i]); err != nil {
					return err
				}
			}
			return nil
		},
	}, {
		// A settlement run walks the unsettled records in member order; an index on
		// settlement_run_id alone made every chunk scan all unsettled records.
		ID: "20261123_0002_pending_records_index",
		Migrate: func(tx *gorm.DB) error {
			m := tx.Migrator()
			if m.HasIndex(&MedicalRecord{}, "idx_medical_records_settlement_run_id") {
				if err := m.DropIndex(&MedicalRecord{}, "idx_medical_records_settlement_run_id"); err != nil {
					return err
				}
			}
			if m.HasIndex(&MedicalRecord{}, "idx_record_pending") {
				return nil // created with the table by a binary that already had this index
			}
			return m.CreateIndex(&MedicalRecord{}, "idx_record_pending")
		},
	}, {
		// Background jobs of the console (imports, runs, exports) and the sealed files they keep.
		ID: "20261123_0003_jobs",
		Migrate: func(tx *gorm.DB) error {
			for _, t := range []any{&Job{}, &JobChunk{}} {
				if tx.Migrator().HasTable(t) {
					continue // created with the others by a binary that already had it
				}
				if err := tx.Migrator().CreateTable(t); err != nil {
					return err
				}
			}
			return nil
		},
		Rollback: func(tx *gorm.DB) error {
			return tx.Migrator().DropTable(&JobChunk{}, &Job{})
		},
	}, {
		// The console searches 4.28 million members by name prefix and by any number's last 4
		// digits, and charts the lines that arrived per month; without these indexes each was a
		// full scan. The lines' index on status alone becomes the prefix of (status, arrived_at),
		// so inserting lines maintains as many indexes as before.
		ID: "20261124_0004_search_indexes",
		Migrate: func(tx *gorm.DB) error {
			m := tx.Migrator()
			for _, idx := range []struct {
				model any
				name  string
			}{
				{&Member{}, "idx_member_name"}, {&Member{}, "idx_member_id_last4"}, {&Member{}, "idx_member_social_last4"},
				{&Member{}, "idx_member_jing_last4"}, {&Member{}, "idx_member_bank_last4"}, {&PayoutLine{}, "idx_line_status_arrived"},
			} {
				if m.HasIndex(idx.model, idx.name) {
					continue // created with the table by a binary that already had it
				}
				if err := m.CreateIndex(idx.model, idx.name); err != nil {
					return err
				}
			}
			if m.HasIndex(&PayoutLine{}, "idx_payout_lines_status") {
				return m.DropIndex(&PayoutLine{}, "idx_payout_lines_status")
			}
			return nil
		},
	}, {
		// Questions the bot was not sure of, for staff to teach it (console 机器人没答好的问题).
		ID: "20261207_0005_bot_questions",
		Migrate: func(tx *gorm.DB) error {
			if tx.Migrator().HasTable(&BotQuestion{}) {
				return nil // created with the others by a binary that already had it
			}
			return tx.Migrator().CreateTable(&BotQuestion{})
		},
		Rollback: func(tx *gorm.DB) error {
			return tx.Migrator().DropTable(&BotQuestion{})
		},
	}, {
		// Notices whose send had an unknown outcome are retried before every fresh one and
		// inside WeChat's 10-minute client_msg_id window, which counts from unsure_since; the
		// index finds them without walking the backlog of due notices.
		ID: "20261207_0006_notice_unsure",
		Migrate: func(tx *gorm.DB) error {
			m := tx.Migrator()
			if !m.HasColumn(&Notification{}, "UnsureSince") {
				if err := m.AddColumn(&Notification{}, "UnsureSince"); err != nil {
					return err
				}
			}
			if m.HasIndex(&Notification{}, "idx_notice_unsure") {
				return nil
			}
			return m.CreateIndex(&Notification{}, "idx_notice_unsure")
		},
	}, {
		// Staff accounts get a second factor, recovery codes and "must change password"; audit
		// rows say through which door (console, command line, break glass) an action came.
		ID: "20261207_0007_staff_auth",
		Migrate: func(tx *gorm.DB) error {
			m := tx.Migrator()
			for _, c := range []struct {
				model any
				field string
			}{
				{&AdminUser{}, "MustChangePassword"}, {&AdminUser{}, "TOTPSecretEnc"}, {&AdminUser{}, "TOTPPendingEnc"},
				{&AdminUser{}, "TOTPEnabledAt"}, {&AdminUser{}, "RecoveryCodes"}, {&AuditLog{}, "Via"},
			} {
				if m.HasColumn(c.model, c.field) {
					continue // created with the table by a binary that already had it
				}
				if err := m.AddColumn(c.model, c.field); err != nil {
					return err
				}
			}
			return nil
		},
	}, {
		// Supplementary claims and their documents; medical records say where they came from.
		ID: "20261207_0008_claims_supplementary",
		Migrate: func(tx *gorm.DB) error {
			m := tx.Migrator()
			for _, col := range []string{"Source", "ClaimID"} {
				if m.HasColumn(&MedicalRecord{}, col) {
					continue // created with the table by a binary that already had it
				}
				if err := m.AddColumn(&MedicalRecord{}, col); err != nil {
					return err
				}
			}
			for _, t := range []any{&Claim{}, &ClaimDocument{}} {
				if m.HasTable(t) {
					continue
				}
				if err := m.CreateTable(t); err != nil {
					return err
				}
			}
			return nil
		},
		Rollback: func(tx *gorm.DB) error {
			m := tx.Migrator()
			if err := m.DropTable(&ClaimDocument{}, &Claim{}); err != nil {
				return err
			}
			for _, col := range []string{"ClaimID", "Source"} {
				if err := m.DropColumn(&MedicalRecord{}, col); err != nil {
					return err
				}
			}
			return nil
		},
	}}
}

// Migrate brings the schema to the newest version. It is safe to run on every start and from
// several processes one after another; each migration runs in its own transaction where the
// database allows DDL in transactions.
func Migrate(db *gorm.DB) error {
	opts := *gormigrate.DefaultOptions
	opts.TableName = "schema_migrations"
	opts.UseTransaction = db.Dialector.Name() == "sqlite"
	if err := gormigrate.New(db, &opts, migrations()).Migrate(); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return nil
}

// SchemaVersion returns the newest migration this binary knows.
func SchemaVersion() string {
	m := migrations()
	return m[len(m)-1].ID
}
