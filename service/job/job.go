package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/pii"
	"huzhu/service/progress"
)

// Options tune a Service. Zero values take the defaults in brackets.
type Options struct {
	Workers    int           // jobs running at once in this process [2]
	MaxQueued  int           // jobs waiting for a slot in this process; more are refused [20]
	Flush      time.Duration // progress is written at most this often [500ms]
	Heartbeat  time.Duration // a job without new progress still proves it is alive this often [5s]
	StaleAfter time.Duration // a live job whose heartbeat is older belongs to a stopped process [30s]
	KeepFiles  time.Duration // how long a kept file stays [1h]
	SpoolDir   string        // where uploads wait, sealed [os.TempDir()]
}

// Service starts jobs and reads them back.
type Service struct {
	db     *gorm.DB
	cipher *pii.Cipher
	o      Options
	now    func() time.Time
	log    *slog.Logger
	owner  string          // this process, as written in jobs.owner
	base   context.Context // parent of every job's context; cancelled by Shutdown
	stop   context.CancelFunc
	wg     sync.WaitGroup

	// mu guards the queue. A job gets a slot only in admitLocked, under mu, and Shutdown sets
	// closed under mu, so every job either got its slot before Shutdown began or never starts.
	mu      sync.Mutex
	closed  bool
	local   map[uint64]*Task // jobs of this process that have not ended
	held    int              // places taken by Start before the job's row exists
	queue   []*Task          // jobs waiting for a slot, oldest first
	running int              // jobs holding a slot
}

// New returns a job service. cipher seals the data keys of kept files.
func New(db *gorm.DB, cipher *pii.Cipher, o Options, now func() time.Time, log *slog.Logger) *Service {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 20
	}
	if o.Flush <= 0 {
		o.Flush = 500 * time.Millisecond
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 30 * time.Second
	}
	if o.KeepFiles <= 0 {
		o.KeepFiles = time.Hour
	}
	if o.SpoolDir == "" {
		o.SpoolDir = os.TempDir()
	}
	if now == nil {
		now = time.Now
	}
	clock := now
	now = func() time.Time { return clock().In(model.Shanghai) } // one zone in every row: SQLite compares times as text
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	base, stop := context.WithCancel(context.Background())
	return &Service{db: db, cipher: cipher, o: o, now: now, log: log, owner: model.Fit(host, 40) + "-" + hex.EncodeToString(b),
		base: base, stop: stop, local: map[uint64]*Task{}}
}

// Spec says what a new job is.
type Spec struct {
	Kind    model.JobKind
	Subject string      // what it works on, as staff know it: a file name, a period, a run
	Actor   model.Actor // the staff member who started it
	// Need is what Actor must be allowed to do for the job to start; the work's own service
	// checks again, but a job refused at once is not left in the list as failed.
	Need  model.Action
	Input *Spool // an upload the job reads, removed when the job ends however it ends; may be nil
}

// May returns the Forbidden error Start would return for a job that needs need started by a,
// so that a form is refused before its upload is read.
func (s *Service) May(a model.Actor, need model.Action) error { return audit.Need(a, need) }

// Work is the job's body. It reports progress with progress.Report(ctx, …), may name its
// current step with t.Stage and keep a file with t.Keep, and returns a summary that is stored as
// JSON. An *errs.Error tells staff what went wrong; any other error is logged and shown only as
// "系统繁忙". ctx ends when the service shuts down.
type Work func(ctx context.Context, t *Task) (any, error)

// Start records a queued job and runs work in the background once one of Options.Workers slots
// is free; jobs get slots in the order Start recorded them. It returns the job as recorded.
// It returns TooMany when this process already has Options.Workers + Options.MaxQueued jobs and
// Unavailable once the service is shutting down, and Forbidden when spec.Actor may not do
// spec.Need; Input is removed on every error.
func (s *Service) Start(ctx context.Context, spec Spec, work Work) (model.Job, error) {
	if spec.Need != "" {
		if err := audit.Need(spec.Actor, spec.Need); err != nil {
			spec.Input.Remove()
			return model.Job{}, err
		}
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		spec.Input.Remove()
		return model.Job{}, errs.New(errs.KindUnavailable, "job.closing", "服务正在重启，任务没有提交").WithFix("请稍等一分钟后重新提交")
	case len(s.local)+s.held >= s.o.Workers+s.o.MaxQueued:
		s.mu.Unlock()
		spec.Input.Remove()
		return model.Job{}, errs.TooMany("job.busy", "后台任务太多，请等前面的任务完成后再提交", 30*time.Second)
	}
	s.held++
	s.wg.Add(1) // under mu with closed false: Shutdown waits for this job too
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		s.held--
		s.mu.Unlock()
		s.wg.Done()
	}
	now := s.now()
	j := model.Job{Kind: spec.Kind, Status: model.JobQueued, Stage: "排队中", Subject: model.Fit(spec.Subject, 255),
		CreatedBy: spec.Actor.Username, Owner: s.owner, HeartbeatAt: now, CreatedAt: now}
	if err := s.db.WithContext(ctx).Create(&j).Error; err != nil {
		release()
		spec.Input.Remove()
		return model.Job{}, fmt.Errorf("start %s job: %w", spec.Kind, err)
	}
	t := &Task{s: s, id: j.ID, kind: j.Kind, input: spec.Input, admit: make(chan struct{}), ended: make(chan struct{})}
	t.Stage("排队中")
	s.mu.Lock()
	s.held--
	s.local[j.ID] = t
	s.queue = append(s.queue, t)
	s.admitLocked() // admits nothing when Shutdown began while the row was written
	s.mu.Unlock()
	go s.run(t, work)
	return j, nil
}

// run waits for a slot, runs the work and records how it ended.
func (s *Service) run(t *Task, work Work) {
	defer s.wg.Done()
	defer func() {
		t.input.Remove()
		s.mu.Lock()
		delete(s.local, t.id)
		s.mu.Unlock()
		close(t.ended)
	}()
	stopFlush := make(chan struct{})
	flushed := make(chan struct{})
	go s.flushLoop(t, stopFlush, flushed)
	endFlush := func() {
		close(stopFlush)
		<-flushed
	}

	select {
	case <-t.admit:
	case <-s.base.Done():
	}
	if !s.leaveQueue(t) { // Shutdown began before the job got a slot
		endFlush()
		s.end(t, nil, errShutdown)
		return
	}
	defer s.releaseSlot()
	if s.closing() { // the slot came just before Shutdown began: do not start the work now
		endFlush()
		s.end(t, nil, errShutdown)
		return
	}
	started := s.now()
	t.Stage("进行中")
	res := s.db.WithContext(context.WithoutCancel(s.base)).Model(&model.Job{}).Where("id = ? AND status = ?", t.id, model.JobQueued).
		Updates(map[string]any{"status": model.JobRunning, "stage": "进行中", "started_at": started, "heartbeat_at": started})
	if res.Error != nil || res.RowsAffected != 1 {
		// The row is gone or another process marked it interrupted: staff may have submitted it
		// again, so it must not run twice.
		endFlush()
		s.log.Warn("job not started", "job_id", t.id, "kind", t.kind, "err", res.Error)
		return
	}
	ctx := progress.With(s.base, t.report)
	out, err := call(ctx, t, work)
	endFlush()
	s.end(t, out, err)
}

// admitLocked gives the free slots to the oldest queued jobs, and none once Shutdown has begun.
// The caller holds s.mu.
func (s *Service) admitLocked() {
	for !s.closed && s.running < s.o.Workers && len(s.queue) > 0 {
		t := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.running++
		t.admitted = true
		close(t.admit)
	}
}

// leaveQueue reports whether t got a slot; if it did not, it takes t out of the queue so that
// no slot goes to it later.
func (s *Service) leaveQueue(t *Task) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.admitted {
		return true
	}
	for i, q := range s.queue {
		if q == t {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			break
		}
	}
	return false
}

// closing reports whether Shutdown has begun.
func (s *Service) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// releaseSlot gives a job's slot back and passes it on to the oldest queued job.
func (s *Service) releaseSlot() {
	s.mu.Lock()
	s.running--
	s.admitLocked()
	s.mu.Unlock()
}

// call runs work, turning a panic into an error so that one bad job cannot stop the process.
func call(ctx context.Context, t *Task, work Work) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return work(ctx, t)
}

// errShutdown ends jobs that were still queued or running when the service shut down.
var errShutdown = errs.New(errs.KindUnavailable, "job.shutdown", "服务重启，任务中断")

// end records the outcome: done with the result, failed with a message staff can act on, or
// interrupted when the service is shutting down.
func (s *Service) end(t *Task, out any, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.base), 30*time.Second)
	defer cancel()
	now := s.now()
	done, total := t.progress()
	upd := map[string]any{"finished_at": now, "heartbeat_at": now, "done": done, "total": total}
	switch {
	case err == nil:
		b, merr := json.Marshal(out)
		if merr != nil {
			s.log.Error("job result not recorded", "job_id", t.id, "kind", t.kind, "err", merr)
		}
		if total > 0 {
			upd["done"] = total
		}
		upd["status"], upd["stage"], upd["result"] = model.JobDone, "已完成", string(b)
	case errors.Is(err, errShutdown) || s.base.Err() != nil:
		upd["status"], upd["stage"] = model.JobInterrupted, "中断"
		upd["error_code"], upd["error"], upd["hint"] = errShutdown.Code, errShutdown.Message, rerunHint(t.kind)
	default:
		upd["status"], upd["stage"] = model.JobFailed, "失败"
		if e, ok := errs.As(err); ok && e.Kind != errs.KindInternal {
			upd["error_code"], upd["error"], upd["hint"] = e.Code, model.Fit(e.Message, 512), model.Fit(e.Fix, 512)
		} else {
			s.log.Error("job failed", "job_id", t.id, "kind", t.kind, "err", err)
			upd["error_code"], upd["error"] = "internal", "系统繁忙，任务没有完成"
			upd["hint"] = fmt.Sprintf("请稍后重新提交；如一再失败，请联系技术支持并告知任务编号 %d。", t.id)
		}
	}
	if uerr := s.db.WithContext(ctx).Model(&model.Job{}).Where("id = ? AND owner = ?", t.id, s.owner).Updates(upd).Error; uerr != nil {
		s.log.Error("job outcome not recorded", "job_id", t.id, "kind", t.kind, "status", upd["status"], "err", uerr)
	}
}

// flushLoop writes the task's progress every Options.Flush when it changed, and the heartbeat
// every Options.Heartbeat when it did not, until stop is closed.
func (s *Service) flushLoop(t *Task, stop <-chan struct{}, flushed chan<- struct{}) {
	defer close(flushed)
	tick := time.NewTicker(s.o.Flush)
	defer tick.Stop()
	type snapshot struct {
		done, total int64
		stage       string
	}
	var last snapshot
	lastBeat := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		done, total := t.progress()
		cur := snapshot{done, total, *t.stage.Load()}
		if cur == last && time.Since(lastBeat) < s.o.Heartbeat {
			continue
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.base), 10*time.Second)
		err := s.db.WithContext(ctx).Model(&model.Job{}).Where("id = ? AND status IN ?", t.id, live()).
			Updates(map[string]any{"done": cur.done, "total": cur.total, "stage": model.Fit(cur.stage, 64), "heartbeat_at": s.now()}).Error
		cancel()
		if err != nil {
			s.log.Warn("job progress not written", "job_id", t.id, "err", err)
			continue
		}
		last, lastBeat = cur, time.Now()
	}
}

func live() []model.JobStatus { return []model.JobStatus{model.JobQueued, model.JobRunning} }

// rerunHint says why submitting interrupted work again is safe, per kind.
func rerunHint(k model.JobKind) string {
	switch k {
	case model.JobImportRoster, model.JobImportMedical:
		return "请重新上传同一文件：重复导入不会重复入库，已导入的行会算作“无变化”。"
	case model.JobSettle:
		return "请重新计算这个期间：重新计算会先撤回草稿再重算，不会重复支付。如提示另一项核算正在进行，请稍后再试。"
	case model.JobExport:
		return "请回到“支付”页重新导出：导出要么整体生效、要么完全不生效，不会重复转账。如重新导出提示没有需要转账的明细，请联系技术支持。"
	case model.JobBankResult:
		return "请重新上传同一回盘文件：已处理的行会算作“此前已处理”，不会重复记账。"
	}
	return "请重新提交。"
}

// Wait blocks until job id, when this process runs it, has ended, or ctx ends, and returns
// the job as recorded (NotFound when there is no such job).
func (s *Service) Wait(ctx context.Context, id uint64) (model.Job, error) {
	s.mu.Lock()
	t := s.local[id]
	s.mu.Unlock()
	if t != nil {
		select {
		case <-t.ended:
		case <-ctx.Done():
			return model.Job{}, ctx.Err()
		}
	}
	return s.load(ctx, id)
}

// Shutdown stops taking jobs, interrupts the queued and running ones and waits until they have
// recorded it, or ctx ends. Once Shutdown has begun no queued job gets a slot, and a job that got
// its slot just before looks again before it is marked running, so it ends interrupted without
// its work starting; work already started sees its context cancelled. Interrupted jobs are safe
// to submit again (see the package doc).
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jobs did not stop in time: %w", ctx.Err())
	}
}

// Task is the handle a running job's work gets.
type Task struct {
	s     *Service
	id    uint64
	kind  model.JobKind
	input *Spool
	admit chan struct{} // closed when the job gets a slot
	ended chan struct{}

	admitted bool // under s.mu

	stage       atomic.Pointer[string]
	mu          sync.Mutex
	done, total int64
}

// ID returns the job's id.
func (t *Task) ID() uint64 { return t.id }

// Stage names the job's current step for staff, in a few Chinese words (读取文件, 写入数据库…).
func (t *Task) Stage(label string) { t.stage.Store(&label) }

// report is the job's progress.Func: cheap, safe from several goroutines, and never going
// backwards for the same total.
func (t *Task) report(done, total int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if total != t.total || done > t.done {
		t.done, t.total = done, total
	}
}

func (t *Task) progress() (int64, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done, t.total
}
