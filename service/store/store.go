// Package store opens huzhu's relational database: MySQL (or MariaDB, TiDB) in production, an
// embedded pure-Go SQLite file when no DSN is given, and brings the schema up to date.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"huzhu/model"
)

// Options says which database to open.
type Options struct {
	MySQLDSN     string // go-sql-driver DSN; empty means SQLite
	SQLitePath   string // file of the embedded database
	MaxOpenConns int
	Migrate      bool // run migrations after opening
	Log          *slog.Logger
	SlowQuery    time.Duration
}

// Open connects, checks the connection and, if asked, migrates. The error says which database
// could not be reached and why, without the password.
func Open(ctx context.Context, o Options) (*gorm.DB, error) {
	// PrepareStmtMaxSize bounds the statements a PrepareStmt session (the payout service's hot
	// reads) keeps prepared: database/sql prepares each on every pooled connection, and MySQL
	// counts them against max_prepared_stmt_count (16,382 by default) across all instances.
	cfg := &gorm.Config{Logger: newLogger(o.Log, o.SlowQuery), NowFunc: func() time.Time { return time.Now().In(model.Shanghai) },
		TranslateError: true, PrepareStmtMaxSize: 64, PrepareStmtTTL: time.Hour}
	var (
		db   *gorm.DB
		err  error
		what string
	)
	if o.MySQLDSN != "" {
		dsn, desc, perr := normalizeMySQLDSN(o.MySQLDSN)
		if perr != nil {
			return nil, perr
		}
		what = "MySQL " + desc
		db, err = gorm.Open(mysql.Open(dsn), cfg)
	} else {
		path := o.SQLitePath
		if path == "" {
			path = "huzhu.db"
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create folder for SQLite file %s: %w", path, err)
			}
		}
		what = "SQLite " + path
		db, err = gorm.Open(sqlite.Open(path+"?_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w (is the server running and the DSN right?)", what, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	if o.MySQLDSN == "" {
		// SQLite allows one writer; one connection avoids "database is locked" under load.
		sqlDB.SetMaxOpenConns(1)
	} else {
		n := o.MaxOpenConns
		if n <= 0 {
			n = 32
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxLifetime(30 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("cannot reach %s: %w (is the server running and the DSN right?)", what, err)
	}
	if o.Migrate {
		if err := model.Migrate(db.WithContext(ctx)); err != nil {
			_ = sqlDB.Close()
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	return db, nil
}

// Close closes the pool behind db.
func Close(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks the database within ctx, for readiness probes.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// IsMySQL reports whether db talks to MySQL, MariaDB or TiDB.
func IsMySQL(db *gorm.DB) bool { return db.Dialector.Name() == "mysql" }

// Deadlock reports whether err means the database rolled the transaction back to resolve a lock
// conflict — MySQL's deadlock victim (1213) or TiDB's write conflict (9007) — so that running it
// again is the remedy.
func Deadlock(err error) bool {
	var me *mysqldrv.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 9007)
}

// normalizeMySQLDSN forces the settings huzhu relies on: parseTime, utf8mb4 and Asia/Shanghai.
// It returns the DSN and a description without the password.
func normalizeMySQLDSN(dsn string) (string, string, error) {
	c, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		return "", "", fmt.Errorf("database.mysql_dsn is not a valid DSN (example: user:pass@tcp(127.0.0.1:3306)/huzhu): %w", errors.Unwrap(err))
	}
	c.ParseTime = true
	c.Loc = model.Shanghai
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	if _, ok := c.Params["charset"]; !ok {
		c.Params["charset"] = "utf8mb4"
	}
	c.Collation = "utf8mb4_unicode_ci"
	c.MultiStatements = false
	c.InterpolateParams = true
	return c.FormatDSN(), fmt.Sprintf("%s@%s/%s", c.User, c.Addr, c.DBName), nil
}

func newLogger(log *slog.Logger, slow time.Duration) logger.Interface {
	if log == nil {
		return logger.Discard
	}
	if slow <= 0 {
		slow = 500 * time.Millisecond
	}
	return &slogLogger{log: log, slow: slow}
}

// slogLogger logs slow queries and errors without their arguments: query parameters may hold
// personal data (hashes, encrypted blobs) and never go to the log.
type slogLogger struct {
	log  *slog.Logger
	slow time.Duration
}

func (l *slogLogger) LogMode(logger.LogLevel) logger.Interface     { return l }
func (l *slogLogger) Info(context.Context, string, ...interface{}) {}
func (l *slogLogger) Warn(ctx context.Context, msg string, _ ...interface{}) {
	l.log.WarnContext(ctx, "db", "msg", msg)
}
func (l *slogLogger) Error(ctx context.Context, msg string, _ ...interface{}) {
	l.log.ErrorContext(ctx, "db", "msg", msg)
}

func (l *slogLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	if elapsed < l.slow {
		return
	}
	sql, rows := fc()
	l.log.WarnContext(ctx, "slow_query", "elapsed_ms", elapsed.Milliseconds(), "rows", rows, "sql_head", sqlHead(sql))
}

// sqlHead keeps the statement up to its first values, so no parameter reaches the log.
func sqlHead(sql string) string {
	for _, kw := range []string{" WHERE ", " VALUES", " SET ", " where ", " values", " set "} {
		if i := strings.Index(sql, kw); i >= 0 {
			sql = sql[:i]
		}
	}
	if len(sql) > 120 {
		sql = sql[:120]
	}
	return sql
}

// BulkRows is how many rows one multi-row INSERT should carry on db's dialect. The embedded
// SQLite driver binds arguments in time quadratic in their number per statement (a nested loop
// in glebarez/go-sqlite's conn.bind, open upstream as glebarez/go-sqlite#180), so its statements
// stay small; MySQL takes large ones gladly.
func BulkRows(db *gorm.DB) int {
	if db.Dialector.Name() == "sqlite" {
		return 50
	}
	return 500
}

// TimeColumn returns the SQL of the time column col and how to bind a time compared with it.
// SQLite keeps times as RFC 3339 text in the zone they were written in (a UTC clock in one
// process, Beijing in another), so comparing or sorting the text is wrong across zones:
// datetime() turns both sides into UTC text. MySQL keeps DATETIME in the connection's zone and
// the driver converts bound times into it.
func TimeColumn(db *gorm.DB, col string) (string, func(time.Time) any) {
	if db.Dialector.Name() == "sqlite" {
		return "datetime(" + col + ")", func(t time.Time) any { return t.UTC().Format(time.DateTime) }
	}
	return col, func(t time.Time) any { return t }
}
