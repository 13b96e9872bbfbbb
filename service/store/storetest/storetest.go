// Package storetest gives each test a fresh, migrated database: a SQLite file in the test's temp
// folder by default, or a new MySQL database with a random name on the server named by
// HUZHU_TEST_MYSQL_DSN (dropped when the test ends), so packages can run in parallel on one server.
// With HUZHU_TEST_REQUIRE_EXTERNAL=1 a missing DSN fails the test instead of falling back.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"huzhu/service/store"
)

// Backend names the database the tests of this process use: "mysql" or "sqlite".
func Backend() string {
	if os.Getenv("HUZHU_TEST_MYSQL_DSN") != "" {
		return "mysql"
	}
	return "sqlite"
}

// NewDB returns a migrated empty database for t.
func NewDB(t testing.TB) *gorm.DB {
	t.Helper()
	db, _ := NewDBWithDSN(t)
	return db
}

// NewDBWithDSN is NewDB that also returns what store.Options needs to open the same database
// again (a MySQL DSN, or a SQLite path), for tests that restart a process.
func NewDBWithDSN(t testing.TB) (*gorm.DB, store.Options) {
	t.Helper()
	ctx := context.Background()
	dsn := os.Getenv("HUZHU_TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("HUZHU_TEST_REQUIRE_EXTERNAL") == "1" {
			t.Fatal("HUZHU_TEST_REQUIRE_EXTERNAL=1 but HUZHU_TEST_MYSQL_DSN is empty")
		}
		opts := store.Options{SQLitePath: filepath.Join(t.TempDir(), "huzhu.db"), Migrate: true}
		db, err := store.Open(ctx, opts)
		if err != nil {
			t.Fatalf("open SQLite: %v", err)
		}
		t.Cleanup(func() { _ = store.Close(db) })
		return db, opts
	}
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("HUZHU_TEST_MYSQL_DSN: %v", err)
	}
	name := "huzhu_t_" + randomHex(6)
	admin, err := gorm.Open(mysql.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect to test MySQL: %v", err)
	}
	if err := admin.Exec(fmt.Sprintf("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", name)).Error; err != nil {
		t.Fatalf("create test database: %v", err)
	}
	cfg.DBName = name
	opts := store.Options{MySQLDSN: cfg.FormatDSN(), Migrate: true, MaxOpenConns: 16}
	db, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("open test MySQL: %v", err)
	}
	t.Cleanup(func() {
		_ = store.Close(db)
		admin.Exec(fmt.Sprintf("DROP DATABASE IF EXISTS `%s`", name))
		if s, err := admin.DB(); err == nil {
			_ = s.Close()
		}
	})
	return db, opts
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
