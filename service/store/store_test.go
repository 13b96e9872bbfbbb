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
	}
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	db := storetest.NewDB(t)
	if err := model.Migrate(db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	var n int64
	db.Table("schema_migrations").Count(&n)
	if n != 1 {
		t.Errorf("schema_migrations has %d rows, want 1", n)
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
