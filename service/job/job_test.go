package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/pii"
	"huzhu/service/progress"
	"huzhu/service/store/storetest"
)

// clock is a settable test clock pinned to Asia/Shanghai.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestService(t testing.TB, o Options) (*Service, *gorm.DB, *clock) {
	t.Helper()
	db := storetest.NewDB(t)
	return newServiceOn(t, db, o)
}

func newServiceOn(t testing.TB, db *gorm.DB, o Options) (*Service, *gorm.DB, *clock) {
	t.Helper()
	c, err := pii.New(bytes.Repeat([]byte("j"), pii.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	if o.SpoolDir == "" {
		o.SpoolDir = t.TempDir()
	}
	clk := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, model.Shanghai)}
	s := New(db, c, o, clk.now, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, db, clk
}

func wait(t *testing.T, s *Service, id uint64) model.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	j, err := s.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%d): %v", id, err)
	}
	return j
}

// eventually polls cond every 20 ms for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countJobWrites counts UPDATE statements on the jobs table that set progress.
func countJobWrites(t *testing.T, db *gorm.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	name := "test:count_job_writes:" + t.Name()
	if err := db.Callback().Update().After("gorm:update").Register(name, func(tx *gorm.DB) {
		if m, ok := tx.Statement.Dest.(map[string]any); ok && tx.Statement.Table == "jobs" {
			if _, ok := m["done"]; ok {
				n.Add(1)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Callback().Update().Remove(name) })
	return &n
}

func TestProgressIsWrittenAtMostEveryFlush(t *testing.T) {
	s, db, _ := newTestService(t, Options{})
	writes := countJobWrites(t, db)
	half := make(chan struct{})
	release := make(chan struct{})
	j, err := s.Start(context.Background(), Spec{Kind: model.JobImportMedical, Subject: "yb.csv", Actor: asActor("op1")}, func(ctx context.Context, task *Task) (any, error) {
		task.Stage("写入数据库")
		// Report as fast as a tight loop can for 1.5 s, the count rising all the time: far more
		// often than the job writes.
		start := time.Now()
		for time.Since(start) < 1500*time.Millisecond {
			progress.Report(ctx, min(time.Since(start).Milliseconds()/3, 500), 1000)
		}
		progress.Report(ctx, 500, 1000)
		close(half)
		<-release
		return map[string]int{"rows": 1000}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != model.JobQueued || j.CreatedBy != "op1" || j.Subject != "yb.csv" {
		t.Errorf("Start = %+v, want queued for op1 on yb.csv", j)
	}
	<-half
	eventually(t, "progress 500/1000 in the row", func() bool {
		got, err := s.Get(context.Background(), j.ID, who("op1", false))
		return err == nil && got.Done == 500 && got.Total == 1000 && got.Status == model.JobRunning && got.Stage == "写入数据库"
	})
	reported := writes.Load()
	close(release)
	got := wait(t, s, j.ID)
	if got.Status != model.JobDone || got.Done != 1000 || got.Total != 1000 || got.FinishedAt == nil || got.StartedAt == nil {
		t.Errorf("finished job = %+v, want done 1000/1000 with times", got)
	}
	var res map[string]int
	if err := json.Unmarshal([]byte(got.Result), &res); err != nil || res["rows"] != 1000 {
		t.Errorf("result = %q (%v), want rows 1000", got.Result, err)
	}
	// 1.5 s of rising progress plus the time to see 500/1000: at one write per 500 ms that is
	// 3 to 5 writes; one write per report would be millions.
	if reported < 2 || reported > 6 {
		t.Errorf("progress writes while reporting = %d, want between 2 and 6 (every 500 ms)", reported)
	}
}

func TestFailureTellsStaffWhatToDo(t *testing.T) {
	s, _, _ := newTestService(t, Options{})
	tests := []struct {
		name                 string
		work                 Work
		code, message, hint  string
		internalTextNotShown string
	}{
		{"service error", func(context.Context, *Task) (any, error) {
			return nil, errs.Invalid("file", "文件缺少必填列：姓名", "请按模板的列名填写第一行")
		}, "invalid.file", "文件缺少必填列：姓名", "请按模板的列名填写第一行", ""},
		{"internal error", func(context.Context, *Task) (any, error) {
			return nil, fmt.Errorf("insert: %w", errors.New("Error 1213: Deadlock found on table members"))
		}, "internal", "系统繁忙，任务没有完成", "任务编号", "Deadlock"},
		{"panic", func(context.Context, *Task) (any, error) {
			var m map[string]int
			m["x"]++
			return nil, nil
		}, "internal", "系统繁忙，任务没有完成", "任务编号", "nil map"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := s.Start(context.Background(), Spec{Kind: model.JobImportRoster, Actor: asActor("op1")}, tc.work)
			if err != nil {
				t.Fatal(err)
			}
			got := wait(t, s, j.ID)
			if got.Status != model.JobFailed || got.ErrorCode != tc.code || got.Error != tc.message || !strings.Contains(got.Hint, tc.hint) {
				t.Errorf("failed job = status %s code %q error %q hint %q, want failed %q %q hint with %q", got.Status, got.ErrorCode, got.Error, got.Hint, tc.code, tc.message, tc.hint)
			}
			if tc.internalTextNotShown != "" && (strings.Contains(got.Error, tc.internalTextNotShown) || strings.Contains(got.Hint, tc.internalTextNotShown)) {
				t.Errorf("failed job shows the internal error text %q to staff", tc.internalTextNotShown)
			}
		})
	}
}

func TestDeadProcessJobsShowInterrupted(t *testing.T) {
	s, db, clk := newTestService(t, Options{})
	ctx := context.Background()
	now := clk.now()
	dead := model.Job{Kind: model.JobSettle, Status: model.JobRunning, Stage: "进行中", Subject: "2025-Q1", CreatedBy: "op1",
		Owner: "crashed-host-1", HeartbeatAt: now.Add(-2 * time.Minute), CreatedAt: now.Add(-3 * time.Minute)}
	recent := model.Job{Kind: model.JobImportRoster, Status: model.JobQueued, Stage: "排队中", CreatedBy: "op1",
		Owner: "crashed-host-1", HeartbeatAt: now.Add(-10 * time.Second), CreatedAt: now.Add(-10 * time.Second)}
	for _, j := range []*model.Job{&dead, &recent} {
		if err := db.Create(j).Error; err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Recover(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1 (only the job with a stale heartbeat)", n, err)
	}
	got, err := s.Get(ctx, dead.ID, who("op1", false))
	if err != nil || got.Status != model.JobInterrupted || got.Status.Label() != "中断" || !strings.Contains(got.Hint, "不会重复支付") || got.FinishedAt == nil {
		t.Errorf("dead job after Recover = %+v, %v; want 中断 with a hint that re-running pays nothing twice", got, err)
	}
	if got, _ := s.Get(ctx, recent.ID, who("op1", false)); got.Status != model.JobQueued {
		t.Errorf("job with a fresh heartbeat = %s, want still queued", got.Status)
	}

	// When read later, after its heartbeat went stale, the second job shows interrupted too.
	clk.add(time.Minute)
	got, err = s.Get(ctx, recent.ID, who("op1", false))
	if err != nil || got.Status != model.JobInterrupted || !strings.Contains(got.Hint, "不会重复入库") {
		t.Errorf("stale job when read = %+v, %v; want 中断 with the import hint", got, err)
	}

	// A job of this process is never taken for dead, however old its heartbeat looks.
	release := make(chan struct{})
	j, err := s.Start(ctx, Spec{Kind: model.JobExport, Actor: asActor("op1")}, func(context.Context, *Task) (any, error) {
		<-release
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	clk.add(time.Hour)
	if got, err := s.Get(ctx, j.ID, who("op1", false)); err != nil || !got.Status.Live() {
		t.Errorf("own live job read an hour later = %s, %v; want still live", got.Status, err)
	}
	close(release)
	if got := wait(t, s, j.ID); got.Status != model.JobDone {
		t.Errorf("own job = %s, want done", got.Status)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	s, db, _ := newTestService(t, Options{Workers: 2, MaxQueued: 2})
	ctx := context.Background()
	var running, peak atomic.Int64
	release := make(chan struct{})
	work := func(context.Context, *Task) (any, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
		return nil, nil
	}
	var ids []uint64
	for i := range 4 {
		j, err := s.Start(ctx, Spec{Kind: model.JobImportMedical, Subject: fmt.Sprintf("f%d.csv", i), Actor: asActor("op1")}, work)
		if err != nil {
			t.Fatalf("Start %d: %v", i, err)
		}
		ids = append(ids, j.ID)
	}
	_, err := s.Start(ctx, Spec{Kind: model.JobImportMedical, Actor: asActor("op1")}, work)
	if errs.KindOf(err) != errs.KindTooMany {
		t.Errorf("fifth Start with 2 workers and 2 queued = %v, want TooMany", err)
	}
	eventually(t, "two jobs running", func() bool { return running.Load() == 2 })
	time.Sleep(200 * time.Millisecond) // a third would have started by now
	var byStatus []struct {
		Status model.JobStatus
		N      int
	}
	db.Model(&model.Job{}).Select("status, count(*) AS n").Group("status").Order("status").Scan(&byStatus)
	want := map[model.JobStatus]int{model.JobQueued: 2, model.JobRunning: 2}
	for _, b := range byStatus {
		if want[b.Status] != b.N {
			t.Errorf("jobs %s = %d, want %d", b.Status, b.N, want[b.Status])
		}
	}
	close(release)
	for _, id := range ids {
		if got := wait(t, s, id); got.Status != model.JobDone {
			t.Errorf("job %d = %s, want done", id, got.Status)
		}
	}
	if peak.Load() != 2 {
		t.Errorf("most jobs running at once = %d, want 2", peak.Load())
	}
}

// TestShutdownInterruptsAndRemovesUploads holds the only slot with one job, queues more behind
// it and shuts down: no queued job may start, whether the running one ends when its context is
// cancelled or on its own the moment Shutdown begins (when the slot frees up before the
// context is cancelled).
func TestShutdownInterruptsAndRemovesUploads(t *testing.T) {
	for _, tc := range []struct {
		name string
		ends func(ctx context.Context, s *Service) error
	}{
		{"running job ends when cancelled", func(ctx context.Context, _ *Service) error {
			<-ctx.Done()
			return ctx.Err()
		}},
		{"running job ends as Shutdown begins", func(ctx context.Context, s *Service) error {
			for !s.closing() {
				time.Sleep(50 * time.Microsecond)
			}
			return errs.New(errs.KindUnavailable, "test.stopped", "测试任务随关闭结束")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := newTestService(t, Options{Workers: 1})
			ctx := context.Background()
			sp, err := s.Spool(strings.NewReader("工会编码,姓名,身份证号\nU1,张一,110199199001010010\n"))
			if err != nil {
				t.Fatal(err)
			}
			started := make(chan struct{})
			running, err := s.Start(ctx, Spec{Kind: model.JobImportRoster, Actor: asActor("op1"), Input: sp}, func(ctx context.Context, _ *Task) (any, error) {
				close(started)
				return nil, tc.ends(ctx, s)
			})
			if err != nil {
				t.Fatal(err)
			}
			var queued []uint64
			for i, kind := range []model.JobKind{model.JobSettle, model.JobExport, model.JobBankResult, model.JobImportMedical} {
				j, err := s.Start(ctx, Spec{Kind: kind, Actor: asActor("op1")}, func(context.Context, *Task) (any, error) {
					select {
					case <-started:
						t.Errorf("queued job %d (%s) ran after Shutdown", i, kind)
					default:
						t.Errorf("queued job %d (%s) ran before the job submitted ahead of it", i, kind)
					}
					return nil, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				queued = append(queued, j.ID)
			}
			<-started
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := s.Shutdown(sctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			for _, id := range queued {
				got, err := s.load(ctx, id)
				if err != nil || got.Status != model.JobInterrupted || got.Error != "服务重启，任务中断" || got.Hint == "" || got.StartedAt != nil {
					t.Errorf("queued job %d after Shutdown = %+v, %v; want interrupted with a hint, never started", id, got, err)
				}
			}
			if got, err := s.load(ctx, running.ID); err != nil || got.Status != model.JobInterrupted && got.Status != model.JobFailed {
				t.Errorf("running job after Shutdown = %+v, %v; want it ended", got, err)
			}
			if _, err := os.Stat(sp.path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("spooled upload after its job ended: %v, want removed", err)
			}
			if _, err := s.Start(ctx, Spec{Kind: model.JobSettle, Actor: asActor("op1")}, nil); errs.KindOf(err) != errs.KindUnavailable {
				t.Errorf("Start after Shutdown = %v, want Unavailable", err)
			}
		})
	}
}

// TestJobsStartInSubmissionOrder queues jobs behind one slot: they must run in the order they
// were submitted, so that staff's 排队中 means a queue.
func TestJobsStartInSubmissionOrder(t *testing.T) {
	const n = 12
	s, _, _ := newTestService(t, Options{Workers: 1, MaxQueued: n})
	gate := make(chan struct{})
	var mu sync.Mutex
	var order []int
	ids := make([]uint64, n)
	for i := range n {
		j, err := s.Start(context.Background(), Spec{Kind: model.JobImportRoster, Actor: asActor("op1")}, func(context.Context, *Task) (any, error) {
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			if i == 0 {
				<-gate // the rest queue up behind the first
			}
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = j.ID
	}
	close(gate)
	for _, id := range ids {
		wait(t, s, id)
	}
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("jobs ran in the order %v, want %v (submission order)", order, want)
	}
}

func TestSpoolSealsUploads(t *testing.T) {
	s, _, _ := newTestService(t, Options{})
	id := "110199199001010010"
	for _, size := range []int{0, 10, spoolChunk, spoolChunk + 1, 3*spoolChunk - 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			plain := bytes.Repeat([]byte(id+"\n"), size/19+1)[:size]
			sp, err := s.Spool(bytes.NewReader(plain))
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Remove()
			onDisk, err := os.ReadFile(sp.path)
			if err != nil {
				t.Fatal(err)
			}
			if size > 0 && bytes.Contains(onDisk, []byte(id)) {
				t.Errorf("spool file holds the ID number in clear")
			}
			r, err := sp.Open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, plain) || r.Size() != int64(size) {
				t.Errorf("read back %d bytes (size %d), %v; want the %d bytes written", len(got), r.Size(), err, size)
			}
			// Cut off or altered, it must not read as a shorter or different file.
			for name, bad := range map[string][]byte{
				"truncated": onDisk[:len(onDisk)-len(onDisk)/3-1],
				"flipped":   append(append([]byte{}, onDisk[:len(onDisk)/2]...), append([]byte{onDisk[len(onDisk)/2] ^ 1}, onDisk[len(onDisk)/2+1:]...)...),
			} {
				if err := os.WriteFile(sp.path, bad, 0o600); err != nil {
					t.Fatal(err)
				}
				r, err := sp.Open()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadAll(r); !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s spool read: %v, want ErrCorrupt", name, err)
				}
				r.Close()
			}
		})
	}
	t.Run("old leftovers are removed at start", func(t *testing.T) {
		dir := s.o.SpoolDir
		old := filepath.Join(dir, "huzhu-upload-old")
		if err := os.WriteFile(old, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-25 * time.Hour)
		_ = os.Chtimes(old, past, past)
		fresh, _ := s.Spool(strings.NewReader("x"))
		defer fresh.Remove()
		if _, err := s.Recover(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a day-old spool file survived Recover")
		}
		if _, err := os.Stat(fresh.path); err != nil {
			t.Errorf("a fresh spool file was removed: %v", err)
		}
	})
}

func TestKeptFileIsSealedPrivateAndExpires(t *testing.T) {
	s, db, clk := newTestService(t, Options{KeepFiles: time.Hour})
	ctx := context.Background()
	account := "6217990000000001"
	content := bytes.Repeat([]byte("HZ1-1-1,北京银行,京卡,张一,"+account+",20.00\n"), keptChunk/40) // more than one chunk
	j, err := s.Start(ctx, Spec{Kind: model.JobExport, Subject: "批次 1", Actor: asActor("op1")}, func(ctx context.Context, task *Task) (any, error) {
		return nil, task.Keep(ctx, "run-1-bank-files.zip", content)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := wait(t, s, j.ID); got.Status != model.JobDone || got.FileName != "run-1-bank-files.zip" || got.FileSize != int64(len(content)) {
		t.Fatalf("export job = %+v, want done with its file", got)
	}
	var chunks []model.JobChunk
	db.Where("job_id = ?", j.ID).Order("seq").Find(&chunks)
	if len(chunks) < 2 {
		t.Errorf("file of %d bytes kept in %d chunks, want at least 2", len(content), len(chunks))
	}
	for _, c := range chunks {
		if bytes.Contains(c.Data, []byte(account)) {
			t.Fatalf("chunk %d holds the account number in clear", c.Seq)
		}
	}
	name, got, err := s.File(ctx, j.ID, asActor("op1"))
	if err != nil || name != "run-1-bank-files.zip" || !bytes.Equal(got, content) {
		t.Errorf("File by its creator = %q, %d bytes, %v; want the file", name, len(got), err)
	}
	var audited int64
	db.Model(&model.AuditLog{}).Where("action = ? AND actor = ? AND target = ?", "job.download", "op1", fmt.Sprintf("job:%d", j.ID)).Count(&audited)
	if audited != 1 {
		t.Errorf("audit rows of the download = %d, want 1", audited)
	}
	for _, viewer := range []string{"op2", "admin"} {
		if _, _, err := s.File(ctx, j.ID, asActor(viewer)); errs.KindOf(err) != errs.KindNotFound {
			t.Errorf("File by %s = %v, want NotFound (only the creator may download)", viewer, err)
		}
	}
	// Chunks moved to another job do not open there.
	other, _ := s.Start(ctx, Spec{Kind: model.JobExport, Actor: asActor("op1")}, func(ctx context.Context, task *Task) (any, error) {
		return nil, task.Keep(ctx, "x.zip", []byte("x"))
	})
	wait(t, s, other.ID)
	db.Model(&model.JobChunk{}).Where("job_id = ?", other.ID).Delete(&model.JobChunk{})
	db.Model(&model.JobChunk{}).Where("job_id = ?", j.ID).Update("job_id", other.ID)
	if _, _, err := s.File(ctx, other.ID, asActor("op1")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("File of chunks moved from another job = %v, want ErrCorrupt", err)
	}
	db.Model(&model.JobChunk{}).Where("job_id = ?", other.ID).Update("job_id", j.ID)

	clk.add(time.Hour)
	if _, _, err := s.File(ctx, j.ID, asActor("op1")); errs.KindOf(err) != errs.KindNotFound || !strings.Contains(err.Error(), "已删除") {
		t.Errorf("File after an hour = %v, want NotFound saying it was deleted", err)
	}
	if _, _, err := s.List(ctx, who("op1", false), 1, 20); err != nil {
		t.Fatal(err)
	}
	var left int64
	db.Model(&model.JobChunk{}).Where("job_id = ?", j.ID).Count(&left)
	var after model.Job
	db.Take(&after, j.ID)
	if left != 0 || after.FileKey != nil || after.FileSize != 0 {
		t.Errorf("after expiry: %d chunks, key %v, size %d; want all deleted", left, after.FileKey != nil, after.FileSize)
	}
}

func TestStaffSeeOnlyTheirOwnJobs(t *testing.T) {
	s, _, _ := newTestService(t, Options{})
	ctx := context.Background()
	var mine uint64
	for i, actor := range []string{"op1", "op2", "op1", "op1"} {
		j, err := s.Start(ctx, Spec{Kind: model.JobSettle, Subject: fmt.Sprint(i), Actor: asActor(actor)}, func(context.Context, *Task) (any, error) {
			return map[string]string{"secret": "result"}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		wait(t, s, j.ID)
		if actor == "op1" {
			mine = j.ID
		}
	}
	if _, err := s.Get(ctx, mine, who("op2", false)); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("op2 reads op1's job: %v, want NotFound", err)
	}
	if j, err := s.Get(ctx, mine, who("admin", true)); err != nil || j.Result == "" {
		t.Errorf("admin reads op1's job: %+v, %v; want it with its result", j, err)
	}
	if _, err := s.Get(ctx, 99999, who("op1", false)); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("unknown job: %v, want NotFound", err)
	}
	tests := []struct {
		viewer          string
		all             bool
		page, size      int
		wantN, wantRows int
	}{
		{"op1", false, 1, 2, 3, 2},
		{"op1", false, 2, 2, 3, 1},
		{"op2", false, 1, 20, 1, 1},
		{"admin", true, 1, 20, 4, 4},
		{"aud", false, 1, 20, 0, 0},
	}
	for _, tc := range tests {
		rows, n, err := s.List(ctx, who(tc.viewer, tc.all), tc.page, tc.size)
		if err != nil || n != int64(tc.wantN) || len(rows) != tc.wantRows {
			t.Errorf("List(%s, all=%v, page %d of %d) = %d rows of %d, %v; want %d of %d", tc.viewer, tc.all, tc.page, tc.size, len(rows), n, err, tc.wantRows, tc.wantN)
		}
		for _, r := range rows {
			if (!tc.all && r.CreatedBy != tc.viewer) || r.Result != "" {
				t.Errorf("List(%s) shows job %d of %s with result %q", tc.viewer, r.ID, r.CreatedBy, r.Result)
			}
		}
	}
	if rows, _, _ := s.List(ctx, who("op1", false), 1, 20); len(rows) == 3 && (rows[0].ID < rows[1].ID || rows[0].ID != mine) {
		t.Errorf("List is not newest first: %d, %d", rows[0].ID, rows[1].ID)
	}
}
