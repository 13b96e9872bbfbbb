package settlement

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/importer"
	"huzhu/service/kv"
	"huzhu/service/pii"
	"huzhu/service/policy"
	"huzhu/service/progress"
	"huzhu/service/store"
	"huzhu/service/store/storetest"
)

// TestScale is the scale measure of the settlement issue, off by default:
//
//	HUZHU_SCALE_BENCH=1000000 HUZHU_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/test' \
//	  go test -run TestScale -v -timeout 60m ./service/settlement/
//
// It writes N/2 members straight into the database, then imports a CSV of N 医保 records (two
// outpatient visits a member in 2026-Q2) through the importer and computes the quarter, and
// reports the time and the peak resident memory of each phase (VmHWM, reset between phases).
// For the settlement it also reports where the time went: this process's CPU, the database
// server's CPU (all of it, and on MariaDB that of this test's connections alone, which other work
// on the machine does not inflate), the server's counters and the time per kind of statement.
// HUZHU_SCALE_CPUPROFILE=<file> writes a CPU profile of the settlement.
func TestScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HUZHU_SCALE_BENCH"))
	if n <= 0 {
		t.Skip("set HUZHU_SCALE_BENCH=<records> to run the scale measure")
	}
	members := n / 2
	db := storetest.NewDB(t)
	cipher, err := pii.New(bytes.Repeat([]byte("s"), pii.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u := model.Union{Code: "SCALE", Name: "规模测试工会", PaysDues: true}
	if err := db.Create(&u).Error; err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	batch := make([]model.Member, 0, 2000)
	for i := range members {
		first17 := fmt.Sprintf("1101991980%02d%02d%03d", 1+i%12, 1+i%28, i%1000)
		social := cipher.Seal(pii.KindSocialCard, fmt.Sprintf("8%011d", i))
		card := cipher.Seal(pii.KindJingCard, fmt.Sprintf("62179%011d", i))
		batch = append(batch, model.Member{UnionID: u.ID, Name: "规模", IDNumberEnc: []byte{1},
			IDNumberHash: cipher.Hash(pii.KindIDNumber, first17+strconv.Itoa(i)), IDLast4: "0000",
			SocialCardEnc: social.Enc, SocialCardHash: social.Hash, SocialCardLast4: social.Last4,
			JingCardEnc: card.Enc, JingCardHash: card.Hash, JingCardLast4: card.Last4,
			InsuredBeijing: true, Employment: model.EmploymentInService, Kind: model.WorkerUrban,
			Participation: model.ParticipationFree, JoinedOn: "2010-01-01"})
		if len(batch) == cap(batch) || i == members-1 {
			if err := db.CreateInBatches(batch, store.BulkRows(db)).Error; err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	t.Logf("wrote %d members in %s (backend %s)", members, time.Since(start).Round(time.Millisecond), storetest.Backend())

	path := filepath.Join(t.TempDir(), "yb.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("结算单号,社保卡号,类别,就诊日期,医院,医疗费总额,统筹支付,自付一,自付二,自费\n")
	for i := range n {
		m := i % members
		fmt.Fprintf(w, "S%09d,8%011d,门诊,2026-%02d-%02d,示例医院,%d.%02d,100.00,%d.%02d,0,0\n",
			i, m, 4+i%3, 1+i%28, 200+i%300, i%100, 50+i%150, i%100)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	now := time.Date(2026, 11, 23, 10, 0, 0, 0, model.Shanghai)
	clock := func() time.Time { return now }
	imp := importer.New(db, cipher, importer.Options{}, clock, nil)
	resetPeak()
	start = time.Now()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := imp.Medical(ctx, "yb.csv", in, asActor("bench"))
	in.Close()
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("import: %d records in %s (%.0f rows/s), peak RSS %d MB; added %d, bad %d",
		rep.Rows, took.Round(time.Millisecond), float64(rep.Rows)/took.Seconds(), peakMB(), rep.Added, rep.Bad)
	if rep.Added != n || rep.Bad != 0 {
		t.Fatalf("import report %+v", rep)
	}

	engine, err := policy.Load(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	cal := calendar.New(model.Shanghai)
	p, _ := cal.ParsePeriod("2026-Q2")
	chunk, _ := strconv.Atoi(os.Getenv("HUZHU_SCALE_CHUNK"))     // records per transaction; 0 takes the default
	workers, _ := strconv.Atoi(os.Getenv("HUZHU_SCALE_WORKERS")) // chunks at once; 0 takes the default
	svc := New(db, engine, cal, kv.NewMemory(nil), Options{ChunkSize: chunk, Workers: workers}, clock, nil)
	settleOnce(t, db, svc, p, n, members)
}

// settleOnce computes period p with svc and reports its time, peak memory and CPU.
func settleOnce(t *testing.T, db *gorm.DB, svc *Service, p calendar.Period, n, members int) {
	t.Helper()
	runtime.GC()
	resetPeak()
	if path := os.Getenv("HUZHU_SCALE_CPUPROFILE"); path != "" {
		pf, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			t.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	sqlt := timeSQL(t, db)
	defer sqlt.unregister(t, db)
	if storetest.Backend() == "mysql" {
		warmPool(t, db, svc.o.Workers+4)
	}
	var (
		mu                  sync.Mutex
		reports             int
		lastDone, lastTotal int64
	)
	ctx := progress.With(context.Background(), func(done, total int64) {
		mu.Lock()
		reports++
		lastDone, lastTotal = done, total
		mu.Unlock()
	})
	before := takeGauges(t, db)
	start := time.Now()
	run, err := svc.Compute(ctx, p, asActor("bench"))
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	pprof.StopCPUProfile()
	takeGauges(t, db).logSince(t, before, took)
	sqlt.log(t)
	t.Logf("settle (%d records a chunk, %d workers): %d records, %d members, %s in %s (%.0f records/s), peak RSS %d MB",
		svc.o.ChunkSize, svc.o.Workers, run.RecordsIn, run.Members, run.TotalFen.YuanGrouped(), took.Round(time.Millisecond),
		float64(run.RecordsIn)/took.Seconds(), peakMB())
	if run.RecordsIn != int64(n) || run.Members != int64(members) {
		t.Errorf("run = %+v", run)
	}
	if lastDone != int64(members) || lastTotal != int64(members) {
		t.Errorf("last of %d progress reports: %d of %d members, want %d of %d", reports, lastDone, lastTotal, members, members)
	}
}

// resetPeak resets the process's peak resident set (Linux: VmHWM).
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakMB reads VmHWM, the peak resident set since the last reset.
func peakMB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return kb / 1024
		}
	}
	return -1
}
