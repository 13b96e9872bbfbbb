package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/store"
	"huzhu/service/store/storetest"
)

// TestSchemaMatchesModels fails when a model gains a field without a migration that adds the
// column, the guard that keeps migrations versioned instead of AutoMigrate surprises.
func TestSchemaMatchesModels(t *testing.T) {
	db := storetest.NewDB(t)
	m := db.Migrator()
	for _, v := range model.All() {
		stmt := &gorm.Statement{DB: db}
		if err := stmt.Parse(v); err != nil {
			t.Fatalf("parse %T: %v", v, err)
		}
		if !m.HasTable(v) {
			t.Errorf("table %s missing", stmt.Schema.Table)
			continue
		}
		for _, f := range stmt.Schema.Fields {
			if f.DBName != "" && !m.HasColumn(v, f.DBName) {
				t.Errorf("%s.%s has no column: add a migration", stmt.Schema.Table, f.DBName)
			}
		}
		for _, idx := range stmt.Schema.ParseIndexes() {
			if !m.HasIndex(v, idx.Name) {
				t.Errorf("%s has no index %s: add a migration", stmt.Schema.Table, idx.Name)
			}
		}
	}
}

// TestSearchIndexesMigration upgrades a database as migration 0003 left it (no search indexes,
// lines indexed on status alone) and checks 0004 brings it to the models' indexes.
func TestSearchIndexesMigration(t *testing.T) {
	db := storetest.NewDB(t)
	m := db.Migrator()
	added := []struct {
		model any
		name  string
	}{
		{&model.Member{}, "idx_member_name"}, {&model.Member{}, "idx_member_id_last4"}, {&model.Member{}, "idx_member_social_last4"},
		{&model.Member{}, "idx_member_jing_last4"}, {&model.Member{}, "idx_member_bank_last4"}, {&model.PayoutLine{}, "idx_line_status_arrived"},
	}
	for _, idx := range added {
		if err := m.DropIndex(idx.model, idx.name); err != nil {
			t.Fatalf("drop %s: %v", idx.name, err)
		}
	}
	if err := db.Exec("CREATE INDEX idx_payout_lines_status ON payout_lines (status)").Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("DELETE FROM schema_migrations WHERE id = ?", "20261124_0004_search_indexes").Error; err != nil {
		t.Fatal(err)
	}
	if err := model.Migrate(db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for _, idx := range added {
		if !m.HasIndex(idx.model, idx.name) {
			t.Errorf("index %s missing after the upgrade", idx.name)
		}
	}
	if m.HasIndex(&model.PayoutLine{}, "idx_payout_lines_status") {
		t.Error("the lines' index on status alone is still there")
	}
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	db := storetest.NewDB(t)
	var before, after int64
	db.Table("schema_migrations").Count(&before)
	if err := model.Migrate(db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	db.Table("schema_migrations").Count(&after)
	if before == 0 || after != before {
		t.Errorf("schema_migrations has %d rows after the second Migrate, %d before", after, before)
	}
}

// TestPendingIndexMigration upgrades a database whose medical_records still has the first
// release's single-column index.
func TestPendingIndexMigration(t *testing.T) {
	db := storetest.NewDB(t)
	m := db.Migrator()
	rec := &model.MedicalRecord{}
	if err := m.DropIndex(rec, "idx_record_pending"); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("CREATE INDEX idx_medical_records_settlement_run_id ON medical_records (settlement_run_id)").Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("DELETE FROM schema_migrations WHERE id = ?", "20261123_0002_pending_records_index").Error; err != nil {
		t.Fatal(err)
	}
	if err := model.Migrate(db); err != nil {
		t.Fatal(err)
	}
	if !m.HasIndex(rec, "idx_record_pending") || m.HasIndex(rec, "idx_medical_records_settlement_run_id") {
		t.Errorf("after the upgrade: pending index %v, old index %v; want only the new one",
			m.HasIndex(rec, "idx_record_pending"), m.HasIndex(rec, "idx_medical_records_settlement_run_id"))
	}
}

func TestUniqueRecordNumberIsEnforced(t *testing.T) {
	db := storetest.NewDB(t)
	rec := model.MedicalRecord{RecordNo: "R1", MemberID: 1, ClaimType: model.ClaimOutpatient, VisitDate: "2025-01-02"}
	if err := db.Create(&rec).Error; err != nil {
		t.Fatal(err)
	}
	dup := rec
	dup.ID = 0
	err := db.Create(&dup).Error
	if !errors.Is(err, gorm.ErrDuplicatedKey) {
		t.Fatalf("second insert of record R1: err = %v, want gorm.ErrDuplicatedKey", err)
	}
}

func TestOpenUnreachableMySQLSaysWhat(t *testing.T) {
	_, err := store.Open(context.Background(), store.Options{MySQLDSN: "u:secretpw@tcp(127.0.0.1:1)/nodb"})
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if !strings.Contains(err.Error(), "cannot reach MySQL u@127.0.0.1:1/nodb") || strings.Contains(err.Error(), "secretpw") {
		t.Errorf("error = %q, want the address without the password", err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	_, err := store.Open(context.Background(), store.Options{MySQLDSN: "not a dsn"})
	if err == nil || !strings.Contains(err.Error(), "database.mysql_dsn") {
		t.Errorf("err = %v, want it to name database.mysql_dsn", err)
	}
}

// TestClaimsMigration upgrades a database from before supplementary claims: the tables appear,
// and the records already imported read as the feed's.
func TestClaimsMigration(t *testing.T) {
	db := storetest.NewDB(t)
	m := db.Migrator()
	rec := &model.MedicalRecord{}
	if err := m.DropTable(&model.ClaimDocument{}, &model.Claim{}); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"ClaimID", "Source"} {
		if err := m.DropColumn(rec, col); err != nil {
			t.Fatalf("drop %s: %v", col, err)
		}
	}
	if err := db.Exec("INSERT INTO medical_records (record_no, member_id, claim_type, visit_date, total_fen, fund_paid_fen, " +
		"self_pay1_fen, self_pay2_fen, self_funded_fen, above_cap_fen, major_disease, settlement_run_id) " +
		"VALUES ('OLD1', 1, 'outpatient', '2025-01-02', 0, 0, 100, 0, 0, 0, false, 0)").Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("DELETE FROM schema_migrations WHERE id = ?", "20261207_0008_claims_supplementary").Error; err != nil {
		t.Fatal(err)
	}
	if err := model.Migrate(db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if !m.HasTable(&model.Claim{}) || !m.HasTable(&model.ClaimDocument{}) || !m.HasColumn(rec, "source") {
		t.Fatal("claims tables or the records' source missing after the upgrade")
	}
	var got model.MedicalRecord
	if err := db.Where("record_no = ?", "OLD1").Take(&got).Error; err != nil {
		t.Fatal(err)
	}
	if got.Source != model.SourceFeed || got.ClaimID != 0 {
		t.Errorf("old record after the upgrade: source %q, claim %d; want feed, 0", got.Source, got.ClaimID)
	}
}
