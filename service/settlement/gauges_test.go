package settlement

import (
	"cmp"
	"context"
	"database/sql"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"
)

// gauges is what the scale measure reads before and after a phase to say where its time went:
// this process's CPU, the database server's CPU (when it runs on this machine as mariadbd or
// mysqld) and, on MySQL, the server's counters. The server serves other tests too, so its figures
// are an upper bound.
type gauges struct {
	goCPU, dbCPU time.Duration
	status       map[string]int64
	ours         map[int]time.Duration // CPU of the server threads of this test's connections (MariaDB), by thread id
}

var statusNames = []string{"Questions", "Com_insert", "Com_update", "Com_select", "Com_delete", "Com_commit",
	"Innodb_row_lock_time", "Innodb_row_lock_waits", "Innodb_os_log_written", "Innodb_data_written", "Bytes_received"}

func takeGauges(t *testing.T, db *gorm.DB) gauges {
	t.Helper()
	var g gauges
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		g.goCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	g.dbCPU = serverCPU()
	if db.Dialector.Name() != "mysql" {
		return g
	}
	g.ours = ourThreadsCPU(t, db)
	var rows []struct{ VariableName, Value string }
	if err := db.Raw("SHOW GLOBAL STATUS").Scan(&rows).Error; err != nil {
		t.Logf("server status: %v", err)
		return g
	}
	g.status = map[string]int64{}
	for _, r := range rows {
		n, err := strconv.ParseInt(r.Value, 10, 64)
		if err == nil {
			g.status[r.VariableName] = n
		}
	}
	return g
}

func (g gauges) logSince(t *testing.T, before gauges, wall time.Duration) {
	t.Helper()
	t.Logf("phase %s: Go CPU %s (%.0f%% of wall), DB server CPU %s (%.0f%%)", wall.Round(time.Millisecond),
		(g.goCPU - before.goCPU).Round(time.Millisecond), 100*float64(g.goCPU-before.goCPU)/float64(wall),
		(g.dbCPU - before.dbCPU).Round(time.Millisecond), 100*float64(g.dbCPU-before.dbCPU)/float64(wall))
	if g.status == nil || before.status == nil {
		return
	}
	if g.ours != nil {
		var sum time.Duration
		unknown := 0
		for tid, c := range g.ours {
			b, ok := before.ours[tid]
			if !ok {
				unknown++
			}
			sum += c - b
		}
		t.Logf("server CPU of this test's %d connections: %s (%.0f%% of wall; %d connections opened during the phase, counted whole)",
			len(g.ours), sum.Round(time.Millisecond), 100*float64(sum)/float64(wall), unknown)
	}
	var b strings.Builder
	for _, n := range statusNames {
		b.WriteString(" " + n + "=" + strconv.FormatInt(g.status[n]-before.status[n], 10))
	}
	t.Logf("server counters:%s", b.String())
}

// serverCPU returns the user+system CPU of the local mariadbd or mysqld process, 0 if none.
func serverCPU() time.Duration {
	pid := serverPID()
	if pid == "" {
		return 0
	}
	c, _ := statCPU("/proc/" + pid + "/stat")
	return c
}

// serverPID returns the process id of the local mariadbd or mysqld, "" if none.
func serverPID() string {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/comm")
		if err != nil {
			continue
		}
		if comm := strings.TrimSpace(string(b)); comm == "mariadbd" || comm == "mysqld" {
			return d.Name()
		}
	}
	return ""
}

// statCPU reads user+system CPU from a /proc stat file.
func statCPU(path string) (time.Duration, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := string(b)
	closing := strings.LastIndexByte(s, ')')
	if closing < 0 {
		return 0, false
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100, true // USER_HZ is 100 on Linux
}

// sqlTimes sums, per statement kind and table, the time the statements took as seen by this
// process (statements on several connections overlap, so the sum may exceed the wall time).
type sqlTimes struct {
	mu  sync.Mutex
	sum map[string]time.Duration
	n   map[string]int
}

func timeSQL(t *testing.T, db *gorm.DB) *sqlTimes {
	t.Helper()
	st := &sqlTimes{sum: map[string]time.Duration{}, n: map[string]int{}}
	start := func(tx *gorm.DB) { tx.InstanceSet("scale:start", time.Now()) }
	stop := func(kind string) func(*gorm.DB) {
		return func(tx *gorm.DB) {
			v, ok := tx.InstanceGet("scale:start")
			if !ok {
				return
			}
			k := kind + " " + tx.Statement.Table
			st.mu.Lock()
			st.sum[k] += time.Since(v.(time.Time))
			st.n[k]++
			st.mu.Unlock()
		}
	}
	cb := db.Callback()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cb.Create().Before("gorm:create").Register("scale:start", start))
	must(cb.Create().After("gorm:create").Register("scale:stop", stop("insert")))
	must(cb.Query().Before("gorm:query").Register("scale:start", start))
	must(cb.Query().After("gorm:query").Register("scale:stop", stop("select")))
	must(cb.Update().Before("gorm:update").Register("scale:start", start))
	must(cb.Update().After("gorm:update").Register("scale:stop", stop("update")))
	must(cb.Delete().Before("gorm:delete").Register("scale:start", start))
	must(cb.Delete().After("gorm:delete").Register("scale:stop", stop("delete")))
	must(cb.Row().Before("gorm:row").Register("scale:start", start))
	must(cb.Row().After("gorm:row").Register("scale:stop", stop("rows")))
	must(cb.Raw().Before("gorm:raw").Register("scale:start", start))
	must(cb.Raw().After("gorm:raw").Register("scale:stop", stop("exec")))
	return st
}

// unregister removes the callbacks timeSQL added.
func (st *sqlTimes) unregister(t *testing.T, db *gorm.DB) {
	t.Helper()
	cb := db.Callback()
	for _, name := range []string{"scale:start", "scale:stop"} {
		_ = cb.Create().Remove(name)
		_ = cb.Query().Remove(name)
		_ = cb.Update().Remove(name)
		_ = cb.Delete().Remove(name)
		_ = cb.Row().Remove(name)
		_ = cb.Raw().Remove(name)
	}
}

func (st *sqlTimes) log(t *testing.T) {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(st.sum), func(a, b string) int { return cmp.Compare(st.sum[b], st.sum[a]) })
	for _, k := range keys {
		t.Logf("  sql %-32s %6d × %s", k, st.n[k], st.sum[k].Round(time.Millisecond))
	}
}

// warmPool opens n connections at once and returns them to db's idle pool, so that a phase
// measured with ourThreadsCPU runs on connections that exist when it starts.
func warmPool(t *testing.T, db *gorm.DB, n int) {
	t.Helper()
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*sql.Conn, n)
	for i := range conns {
		if conns[i], err = sqlDB.Conn(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// ourThreadsCPU returns the CPU used so far by the MariaDB threads serving this test's database
// (MariaDB runs one thread per connection and shows its id in PROCESSLIST.TID), nil when that
// cannot be read.
func ourThreadsCPU(t *testing.T, db *gorm.DB) map[int]time.Duration {
	t.Helper()
	pid := serverPID()
	if pid == "" {
		return nil
	}
	var tids []int
	if err := db.Raw("SELECT tid FROM information_schema.processlist WHERE db = DATABASE()").Scan(&tids).Error; err != nil {
		return nil
	}
	out := map[int]time.Duration{}
	for _, tid := range tids {
		if c, ok := statCPU("/proc/" + pid + "/task/" + strconv.Itoa(tid) + "/stat"); ok {
			out[tid] = c
		}
	}
	return out
}
