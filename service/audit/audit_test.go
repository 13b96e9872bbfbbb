package audit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/store/storetest"
)

func TestWriteRollsBackWithTheChange(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	at := time.Date(2025, 4, 22, 10, 0, 0, 0, model.Shanghai)
	boom := errors.New("change failed")
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := audit.Write(ctx, tx, at, audit.Entry{Actor: "op1", Action: "run.approve", Target: "run:1"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, n, _ := audit.List(ctx, db, audit.Filter{}); n != 0 {
		t.Errorf("audit row survived a rolled-back change: %d rows", n)
	}
	for i, a := range []string{"run.approve", "run.recalculate", "member.unbind"} {
		if err := audit.Write(ctx, db, at.Add(time.Duration(i)*time.Minute), audit.Entry{Actor: "op1", Action: a, UnionID: 7,
			Detail: map[string]string{"card": "尾号1234"}}); err != nil {
			t.Fatal(err)
		}
	}
	rows, n, err := audit.List(ctx, db, audit.Filter{Action: "run.", UnionID: 7})
	if err != nil || n != 2 || rows[0].Action != "run.recalculate" || rows[0].Outcome != "ok" {
		t.Fatalf("List(run.) = %d rows %+v, %v; want 2, newest first", n, rows, err)
	}
}
