package notify

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/kv"
	"huzhu/service/store"
)

// Templates are the WeChat template ids of each notice kind: OA… for official-account template
// messages, MP… for mini-program subscribe messages. An empty id disables that channel for that
// kind.
type Templates struct {
	OAArrived, OAApproved, OAFailed string
	MPArrived, MPApproved, MPFailed string
}

func (t Templates) oa(k model.NoticeKind) string {
	switch k {
	case model.NoticeArrived:
		return t.OAArrived
	case model.NoticeApproved:
		return t.OAApproved
	case model.NoticeFailedTx:
		return t.OAFailed
	}
	return ""
}

func (t Templates) mp(k model.NoticeKind) string {
	switch k {
	case model.NoticeArrived:
		return t.MPArrived
	case model.NoticeApproved:
		return t.MPApproved
	case model.NoticeFailedTx:
		return t.MPFailed
	}
	return ""
}

// Options tune a Dispatcher. Zero values take the defaults in brackets.
type Options struct {
	Templates Templates
	// Keys maps the logical field names amount, account, period, date, note to the keys WeChat
	// assigned in the templates [amount1, thing2, thing3, date4, thing5].
	Keys map[string]string
	// DetailPage is the mini-program page of a payout [pages/payout/detail]; the transfer or run
	// id is appended as a query.
	DetailPage string
	Hotline    string // in SMS text [12351]

	Batch int // rows claimed at once [100]
	// Concurrency is how many sends one dispatcher keeps in flight [RatePerSecond, at least 16
	// and at most 1024; 64 without a rate]. It is cut to RatePerSecond (at least 16): more sends
	// in flight than the second's budget only wait for it, holding their leases.
	Concurrency  int
	Lease        time.Duration // how long a claim lasts before others may reclaim it [60s]
	SendTimeout  time.Duration // per send [15s]
	PollInterval time.Duration // idle wait between empty claims [1s]
	MaxAttempts  int           // then the row ends as failed [8]
	BaseBackoff  time.Duration // first retry delay, doubled per attempt, with jitter [30s]
	MaxBackoff   time.Duration // [1h]
	// DedupWindow is how long WeChat drops a template message repeating an openid and
	// client_msg_id [10m, as documented]. Retries of a send with an unknown outcome start before
	// UnsureSince + DedupWindow − SendTimeout − 30 s; past that the rule in doc.go applies.
	DedupWindow time.Duration
	// UnsureBackoff is the first retry delay after an unknown outcome, doubled per attempt and
	// cut at the window's end [2s].
	UnsureBackoff time.Duration

	// RatePerSecond caps sends per second across every dispatcher sharing KV; 0 means no cap.
	RatePerSecond int
	// KV holds the shared rate-limit counters (Redis in production); nil uses an in-process store.
	KV kv.Store
	// Quiet hours, in Asia/Shanghai; the zero value means none (use ParseQuiet("22:00", "08:00")).
	Quiet Quiet

	// Registerer receives the dispatcher's counters; nil registers nothing.
	Registerer prometheus.Registerer
	// Owner names this dispatcher in lease_owner [hostname-pid-random].
	Owner string
}

func (o *Options) defaults(now func() time.Time) {
	if o.DetailPage == "" {
		o.DetailPage = "pages/payout/detail"
	}
	if o.Hotline == "" {
		o.Hotline = "12351"
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
		if o.RatePerSecond > 0 {
			o.Concurrency = min(o.RatePerSecond, 1024)
		}
	}
	if o.RatePerSecond > 0 && o.Concurrency > max(o.RatePerSecond, 16) {
		o.Concurrency = max(o.RatePerSecond, 16)
	}
	o.Concurrency = max(o.Concurrency, 16)
	if o.Lease <= 0 {
		o.Lease = 60 * time.Second
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 15 * time.Second
	}
	if o.SendTimeout > o.Lease/2 {
		o.SendTimeout = o.Lease / 2
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 30 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Hour
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = 10 * time.Minute
	}
	if o.UnsureBackoff <= 0 {
		o.UnsureBackoff = 2 * time.Second
	}
	if o.KV == nil {
		o.KV = kv.NewMemory(now)
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		if len(host) > 24 {
			host = host[:24]
		}
		b := make([]byte, 4)
		_, _ = crand.Read(b)
		o.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if len(o.Owner) > 48 {
		o.Owner = o.Owner[:48]
	}
}

// Dispatcher sends due outbox rows. It is safe to run many, in one process or many.
type Dispatcher struct {
	db      *gorm.DB
	s       Senders
	o       Options
	now     func() time.Time
	log     *slog.Logger
	m       *metrics
	seq     atomic.Uint64
	mu      sync.Mutex
	quietAt time.Time // last time due non-urgent rows were moved past quiet hours
}

// New returns a dispatcher over db. now is the clock (quiet hours, due times, leases); log gets
// one line per failed send and per batch error, never a phone number or openid.
func New(db *gorm.DB, s Senders, o Options, now func() time.Time, log *slog.Logger) *Dispatcher {
	if now == nil {
		now = time.Now
	}
	o.defaults(now)
	return &Dispatcher{db: db, s: s, o: o, now: now, log: log, m: newMetrics(o.Registerer)}
}

// Run dispatches until ctx ends. It keeps up to Concurrency sends in flight and claims more rows
// as sends finish, so a slow WeChat answer holds one send, not a batch; WeChat's accepted
// template messages are recorded in bulk every few milliseconds. When ctx ends, sends not
// started are released at once and those in flight record their outcome; Run returns nil after
// they have.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.log.Info("notice dispatcher started", "owner", d.o.Owner, "rate_per_second", d.o.RatePerSecond,
		"concurrency", d.o.Concurrency)
	rec := newSentRecorder(d)
	defer rec.close()
	var (
		wg       sync.WaitGroup
		inflight atomic.Int64
		freed    = make(chan struct{}, 1)
	)
	defer wg.Wait()
	// Claim when a good part of the slots is free, so that claims stay batches.
	refill := max(1, min(d.o.Batch, d.o.Concurrency)/2)
	for {
		if ctx.Err() != nil {
			return nil
		}
		free := d.o.Concurrency - int(inflight.Load())
		if free < refill && inflight.Load() > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-freed:
			}
			continue
		}
		rows, token, b, err := d.claimBatch(ctx, min(free, d.claimSize()))
		if err != nil && ctx.Err() == nil {
			d.log.Error("notice dispatch batch failed", "err", err)
		}
		if len(rows) == 0 || err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(d.o.PollInterval):
			case <-freed:
			}
			continue
		}
		for i := range rows {
			inflight.Add(1)
			wg.Add(1)
			go func(n *model.Notification) {
				defer func() {
					inflight.Add(-1)
					wg.Done()
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
				if ctx.Err() != nil {
					d.release(token, n) // not sent: free at once, no unknown outcome
					return
				}
				if ref, bulk := d.process(ctx, token, n, b); bulk {
					rec.add(token, n.ID, ref)
				}
			}(&rows[i])
		}
	}
}

// claimBatch defers rows past quiet hours when needed, claims up to n due rows and loads what
// they need. Rows whose batch could not be prepared are released.
func (d *Dispatcher) claimBatch(ctx context.Context, n int) ([]model.Notification, string, *batch, error) {
	now := d.now()
	quiet, quietEnd := d.o.Quiet.In(now)
	if quiet {
		if err := d.deferQuiet(ctx, now, quietEnd); err != nil {
			return nil, "", nil, err
		}
	}
	token := d.o.Owner + ":" + strconv.FormatUint(d.seq.Add(1), 36)
	rows, err := d.claim(ctx, token, now, n, quiet)
	if err != nil || len(rows) == 0 {
		return nil, "", nil, err
	}
	b, err := d.prepare(ctx, rows)
	if err != nil {
		for i := range rows {
			d.release(token, &rows[i]) // nothing was sent
		}
		return nil, "", nil, err
	}
	return rows, token, b, nil
}

// release gives back a claimed row that was not sent, due at once.
func (d *Dispatcher) release(token string, n *model.Notification) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := d.db.WithContext(ctx).Model(&model.Notification{}).
		Where("id = ? AND lease_owner = ? AND status = ?", n.ID, token, model.NoticeSending).
		Updates(map[string]any{"status": model.NoticePending, "attempts": gorm.Expr("attempts - 1"),
			"lease_owner": "", "lease_until": nil, "updated_at": d.now()}).Error
	if err != nil {
		d.log.Warn("release notice", "notice_id", n.ID, "err", err)
	}
}

// sentRecorder records template messages WeChat accepted, in bulk: every 20 ms, or at once when
// 200 are waiting. Recording late is safe: a resend after a crash carries the same
// client_msg_id and falls inside WeChat's window.
type sentRecorder struct {
	d    *Dispatcher
	mu   sync.Mutex
	byTk map[string][]sentRef
	n    int
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newSentRecorder(d *Dispatcher) *sentRecorder {
	r := &sentRecorder{d: d, byTk: map[string][]sentRef{}, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

func (r *sentRecorder) add(token string, id uint64, ref string) {
	r.mu.Lock()
	r.byTk[token] = append(r.byTk[token], sentRef{id, ref})
	r.n++
	full := r.n >= 200
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

func (r *sentRecorder) loop() {
	defer close(r.done)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			r.flush()
			return
		case <-t.C:
		case <-r.kick:
		}
		r.flush()
	}
}

func (r *sentRecorder) flush() {
	r.mu.Lock()
	byTk, n := r.byTk, r.n
	r.byTk, r.n = map[string][]sentRef{}, 0
	r.mu.Unlock()
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for tk, refs := range byTk {
		err := r.d.markSentBulk(ctx, tk, refs, r.d.now())
		for try := 1; try < 3 && store.Deadlock(err); try++ {
			err = r.d.markSentBulk(ctx, tk, refs, r.d.now())
		}
		if err != nil {
			r.d.log.Error("record sent notices", "count", len(refs), "err", err)
			continue // the rows stay leased and are resent inside WeChat's window, then dropped by it
		}
		r.d.m.sent.WithLabelValues(string(model.ChannelTemplate)).Add(float64(len(refs)))
	}
}

// close records what is waiting and stops the recorder.
func (r *sentRecorder) close() {
	close(r.stop)
	<-r.done
}

// RunOnce claims one batch of due rows, sends them and records each outcome. It returns how many
// rows it claimed. Rows it could not record (ctx ended, database gone) stay leased and are
// reclaimed by any dispatcher after the lease.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	now := d.now()
	quiet, quietEnd := d.o.Quiet.In(now)
	if quiet {
		if err := d.deferQuiet(ctx, now, quietEnd); err != nil {
			return 0, err
		}
	}
	token := d.o.Owner + ":" + strconv.FormatUint(d.seq.Add(1), 36)
	rows, err := d.claim(ctx, token, now, d.claimSize(), quiet)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	b, err := d.prepare(ctx, rows)
	if err != nil {
		return len(rows), err
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, d.o.Concurrency)
		smu  sync.Mutex
		sent []sentRef
	)
	for i := range rows {
		if ctx.Err() != nil {
			break // the rest stay leased and come back after the lease
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(n *model.Notification) {
			defer func() { <-sem; wg.Done() }()
			if ref, bulk := d.process(ctx, token, n, b); bulk {
				smu.Lock()
				sent = append(sent, sentRef{n.ID, ref})
				smu.Unlock()
			}
		}(&rows[i])
	}
	wg.Wait()
	if len(sent) > 0 {
		// WeChat accepted these; record even if ctx ended, so that they are not sent again.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		err := d.markSentBulk(rctx, token, sent, d.now())
		for try := 1; try < 3 && store.Deadlock(err); try++ {
			err = d.markSentBulk(rctx, token, sent, d.now())
		}
		if err != nil {
			return len(rows), err
		}
		d.m.sent.WithLabelValues(string(model.ChannelTemplate)).Add(float64(len(sent)))
	}
	return len(rows), ctx.Err()
}

// claimSize keeps one batch well inside the lease when the rate limit is low.
func (d *Dispatcher) claimSize() int {
	n := d.o.Batch
	if r := d.o.RatePerSecond; r > 0 {
		if m := r * int(d.o.Lease/time.Second) / 4; m < n {
			n = max(m, 1)
		}
	}
	return n
}

// process sends one claimed row and records the outcome, except for template messages WeChat
// accepted: those it returns (msgid, true) for one bulk update at the end of the batch (safe
// because a resend carries the same client_msg_id).
func (d *Dispatcher) process(ctx context.Context, token string, n *model.Notification, b *batch) (string, bool) {
	if why, ok := b.delivered[siblingBase(n)]; ok && why != n.Channel {
		d.finish(ctx, token, n, model.NoticeSkipped, "已通过"+channelLabel(why)+"送达")
		return "", false
	}
	p, err := decodePayload(n.Payload)
	if err != nil {
		d.finish(ctx, token, n, model.NoticeFailed, "通知内容无法解析："+err.Error())
		return "", false
	}
	c, err := render(n.Kind, p, d.o.Hotline, model.DateOf(d.now()))
	if err != nil {
		d.finish(ctx, token, n, model.NoticeFailed, err.Error())
		return "", false
	}
	acct := b.accounts[n.MemberID]
	if ok, why := d.usable(n.Channel, n.Kind, acct, b.phones[n.MemberID]); !ok {
		d.fallback(ctx, token, n, acct, b.phones[n.MemberID], why, false)
		return "", false
	}
	if limit := ambiguousLimit(n.Channel); n.Ambiguous > limit {
		d.finish(ctx, token, n, model.NoticeFailed, fmt.Sprintf("发送结果不明（%d次），为避免重复不再自动重发，请核实后重发", n.Ambiguous))
		return "", false
	}
	if d.pastWindow(n, d.now()) {
		d.finish(ctx, token, n, model.NoticeFailed, pastWindowText)
		return "", false
	}
	if err := d.waitRate(ctx); err != nil {
		d.release(token, n) // ctx ended before the send: nothing went out
		return "", false
	}
	if d.pastWindow(n, d.now()) { // the rate limit may have held the send past the window
		d.finish(ctx, token, n, model.NoticeFailed, pastWindowText)
		return "", false
	}
	attempt := d.now()
	sctx, cancel := context.WithTimeout(ctx, d.o.SendTimeout)
	ref, err := d.send(sctx, n, p, c, acct, b.phones[n.MemberID])
	cancel()
	// From here on the send happened or failed; record it even if ctx has ended.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer rcancel()
	if err == nil {
		if n.Channel == model.ChannelTemplate {
			return ref, true
		}
		d.record(rctx, token, n, func(tx *gorm.DB) error {
			if err := markSent(tx, token, n.ID, d.now(), ref); err != nil {
				return err
			}
			return d.consume(tx, n, acct)
		})
		d.m.sent.WithLabelValues(string(n.Channel)).Inc()
		return "", false
	}
	se := classify(err)
	switch se.Kind {
	case FailUser:
		if n.Channel == model.ChannelSubscribe && se.Code == 43101 {
			// The acceptance is used up (or was withdrawn): forget it, or every notice tries it.
			if err := d.db.WithContext(rctx).Transaction(func(tx *gorm.DB) error { return d.consume(tx, n, acct) }); err != nil {
				d.log.Error("forget used subscription", "notice_id", n.ID, "err", err)
			}
		}
		d.fallback(rctx, token, n, acct, b.phones[n.MemberID], lastError(se), true)
	case FailBadRequest:
		d.finish(rctx, token, n, model.NoticeFailed, lastError(se))
	case FailAmbiguous:
		n.Ambiguous++
		if n.UnsureSince == nil {
			n.UnsureSince = &attempt
		}
		if n.Ambiguous > ambiguousLimit(n.Channel) {
			d.finish(rctx, token, n, model.NoticeFailed, "发送结果不明，为避免重复不再自动重发："+lastError(se))
			return "", false
		}
		d.retry(rctx, token, n, se)
	default:
		d.retry(rctx, token, n, se)
	}
	return "", false
}

// ambiguousLimit is how many unknown outcomes a row may have and still be retried. Template
// messages carry client_msg_id, so WeChat drops the duplicate of a resend within its window;
// subscribe messages and SMS have no such id and are resent once at most.
func ambiguousLimit(ch model.Channel) int {
	if ch == model.ChannelTemplate {
		return 3
	}
	return 1
}

func (d *Dispatcher) retry(ctx context.Context, token string, n *model.Notification, se *SendError) {
	unsure := n.Channel == model.ChannelTemplate && n.Ambiguous > 0 && n.UnsureSince != nil
	if n.Attempts >= d.o.MaxAttempts && !unsure { // an unsure row's retries end with the window
		d.finish(ctx, token, n, model.NoticeFailed, fmt.Sprintf("已尝试%d次仍未成功：%s", n.Attempts, lastError(se)))
		return
	}
	now := d.now()
	var next time.Time
	if unsure {
		// The first copy may be out: retry soon, ignoring quiet hours and RetryAfter (a 45009
		// quota answer holds fresh rows an hour), so that the retry falls inside WeChat's
		// window and is dropped if the first copy was delivered.
		end := d.windowEnd(n)
		if !now.Before(end) {
			d.finish(ctx, token, n, model.NoticeFailed, pastWindowText+"（最后错误："+lastError(se)+"）")
			return
		}
		next = now.Add(d.unsureBackoff(n.Attempts - 1))
		if next.After(end) {
			next = end
		}
	} else {
		next = now.Add(d.backoff(n.Attempts, se))
		if !n.Urgent {
			next = d.o.Quiet.Defer(next)
		}
	}
	d.m.retried.WithLabelValues(string(n.Channel), se.Kind.String()).Inc()
	d.record(ctx, token, n, func(tx *gorm.DB) error {
		return markRetry(tx, token, n.ID, now, next, lastError(se), n.Ambiguous, n.UnsureSince)
	})
}

// pastWindowText is the last error of a row ended by the rule beyond WeChat's window.
const pastWindowText = "发送结果不明，且已超过微信10分钟去重时限：为免重复不再自动重发。请核实会员是否已收到（微信回执会自动更正为已发送），未收到再重发"

// windowEnd is the last moment a retry of n's unknown-outcome send may start and still be
// dropped by WeChat if the first copy was delivered: UnsureSince + DedupWindow, less the send
// timeout and 30 s for clock skew between us and WeChat.
func (d *Dispatcher) windowEnd(n *model.Notification) time.Time {
	return n.UnsureSince.Add(d.o.DedupWindow - d.o.SendTimeout - 30*time.Second)
}

// pastWindow reports whether n is a template message with an unknown outcome whose window for a
// safe resend has closed. The rule (doc.go): such a row ends as failed for staff, neither resent
// (a second copy of a money notice) nor dropped silently.
func (d *Dispatcher) pastWindow(n *model.Notification, now time.Time) bool {
	return n.Channel == model.ChannelTemplate && n.Ambiguous > 0 && n.UnsureSince != nil && !now.Before(d.windowEnd(n))
}

// unsureBackoff is UnsureBackoff doubled per earlier attempt, up to a minute.
func (d *Dispatcher) unsureBackoff(attempt int) time.Duration {
	b := d.o.UnsureBackoff
	for i := 1; i < attempt && b < time.Minute; i++ {
		b *= 2
	}
	return min(b, time.Minute)
}

// backoff doubles from BaseBackoff per attempt up to MaxBackoff, with jitter in [d/2, d] so that
// rows failing together do not come back together.
func (d *Dispatcher) backoff(attempt int, se *SendError) time.Duration {
	b := d.o.BaseBackoff
	for i := 1; i < attempt && b < d.o.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.o.MaxBackoff)
	b = b/2 + rand.N(b/2+1)
	if se != nil && se.RetryAfter > b {
		b = se.RetryAfter
	}
	return b
}

// finish ends a row as failed or skipped.
func (d *Dispatcher) finish(ctx context.Context, token string, n *model.Notification, st model.NoticeStatus, why string) {
	if st == model.NoticeFailed {
		d.m.failed.WithLabelValues(string(n.Channel)).Inc()
		d.log.Warn("notice failed", "notice_id", n.ID, "member_id", n.MemberID, "channel", n.Channel, "kind", n.Kind,
			"attempts", n.Attempts, "reason", why)
	} else {
		d.m.skipped.WithLabelValues(string(n.Channel)).Inc()
	}
	d.record(ctx, token, n, func(tx *gorm.DB) error {
		return markFinal(tx, token, n.ID, d.now(), st, why, n.Ambiguous, n.UnsureSince)
	})
}

// fallback ends the row on its channel and queues the notice on the next usable channel. When
// there is none, the row ends as failed if the channel refused it (staff should know) or skipped
// if the worker simply has no usable channel.
func (d *Dispatcher) fallback(ctx context.Context, token string, n *model.Notification, acct *model.WeChatAccount,
	phone []byte, why string, refused bool) {
	next, reasons := d.nextChannel(n.Channel, n.Kind, acct, phone)
	if next == "" {
		st := model.NoticeSkipped
		msg := why
		if len(reasons) > 0 {
			msg += "；" + strings.Join(reasons, "；")
		}
		if refused {
			st = model.NoticeFailed
		} else {
			msg = "无可用通知渠道：" + msg
		}
		d.finish(ctx, token, n, st, msg)
		return
	}
	d.m.fallback.WithLabelValues(string(n.Channel), string(next)).Inc()
	due := d.now()
	if !n.Urgent {
		due = d.o.Quiet.Defer(due)
	}
	row := model.Notification{
		DedupKey: siblingBase(n) + ":" + string(next), MemberID: n.MemberID, Kind: n.Kind, Channel: next,
		Urgent: n.Urgent, Payload: n.Payload, Status: model.NoticePending, NextAttemptAt: due,
	}
	d.record(ctx, token, n, func(tx *gorm.DB) error {
		if err := markFinal(tx, token, n.ID, d.now(), model.NoticeSkipped, why+"，改用"+channelLabel(next), n.Ambiguous, n.UnsureSince); err != nil {
			return err
		}
		return insertIgnore(tx, &row)
	})
	d.m.skipped.WithLabelValues(string(n.Channel)).Inc()
}

// record runs one outcome update in a transaction and logs (never returns) failures: an outcome
// that cannot be written leaves the row leased, and it comes back after the lease.
func (d *Dispatcher) record(ctx context.Context, token string, n *model.Notification, f func(tx *gorm.DB) error) {
	err := d.db.WithContext(ctx).Transaction(f)
	for try := 1; try < 3 && store.Deadlock(err); try++ { // a deadlock victim was rolled back: run it again
		err = d.db.WithContext(ctx).Transaction(f)
	}
	switch {
	case err == errLeaseLost:
		d.m.leaseLost.Inc()
		d.log.Warn("notice lease lost before the outcome was recorded", "notice_id", n.ID, "channel", n.Channel)
	case err != nil:
		d.log.Error("record notice outcome", "notice_id", n.ID, "err", err)
	}
}

func channelLabel(c model.Channel) string {
	switch c {
	case model.ChannelTemplate:
		return "公众号消息"
	case model.ChannelSubscribe:
		return "小程序订阅消息"
	case model.ChannelSMS:
		return "短信"
	}
	return string(c)
}
