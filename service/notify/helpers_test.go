package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/pii"
	"huzhu/service/wechat"
	"huzhu/service/wechat/wechattest"
)

// t0 is a Monday morning in Beijing, outside quiet hours.
var t0 = time.Date(2025, 4, 21, 10, 0, 0, 0, model.Shanghai)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

var testTemplates = Templates{OAArrived: "oa-arr", OAApproved: "oa-apr", OAFailed: "oa-fail",
	MPArrived: "mp-arr", MPApproved: "mp-apr", MPFailed: "mp-fail"}

func testCipher(t testing.TB) *pii.Cipher {
	t.Helper()
	c, err := pii.New([]byte("notify-test-key-0123456789-abcdefghijklmnop"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// person describes a worker's reachability.
type person struct {
	follows    bool   // follows the official account
	subscribed bool   // accepted the mini-program templates
	phone      string // "" for none
	optOut     bool   // SMS opt-out
	noWeChat   bool   // no WeChat account at all
}

// mustMember creates a member (and their WeChat account) and returns its id.
func mustMember(t testing.TB, db *gorm.DB, c *pii.Cipher, i int, p person) uint64 {
	t.Helper()
	m := model.Member{UnionID: 1, Name: fmt.Sprintf("职工%d", i), IDNumberEnc: []byte("x"),
		IDNumberHash: fmt.Sprintf("id-%d", i), IDLast4: "0000"}
	if p.phone != "" {
		m.PhoneEnc, m.PhoneHash, m.PhoneLast4 = c.Encrypt(p.phone), c.Hash("phone", p.phone), pii.Last4(p.phone)
	}
	if err := db.Create(&m).Error; err != nil {
		t.Fatalf("create member: %v", err)
	}
	if p.noWeChat {
		return m.ID
	}
	oa, mp := fmt.Sprintf("oa-%d", i), fmt.Sprintf("mp-%d", i)
	a := model.WeChatAccount{MemberID: &m.ID, MPOpenID: &mp, Following: p.follows, SMSOptOut: p.optOut}
	if p.follows {
		a.OAOpenID = &oa
	}
	if p.subscribed {
		a.Subscriptions = "mp-apr,mp-arr,mp-fail"
	}
	if err := db.Create(&a).Error; err != nil {
		t.Fatalf("create WeChat account: %v", err)
	}
	return m.ID
}

func arrivedPayload(transfer uint64) Payload {
	return Payload{AmountFen: 20065300, Period: "2025-Q1", ClaimTypes: "门诊", AccountKind: "jingka",
		AccountLast4: "1234", TransferID: transfer}
}

func mustEnqueue(t testing.TB, db *gorm.DB, member, transfer uint64, kind model.NoticeKind, at time.Time) {
	t.Helper()
	ok, err := Enqueue(context.Background(), db, Notice{Subject: TransferSubject(transfer), MemberID: member,
		Kind: kind, Payload: arrivedPayload(transfer), At: at})
	if err != nil || !ok {
		t.Fatalf("Enqueue(transfer %d) = %v, %v; want queued", transfer, ok, err)
	}
}

func rowsOf(t testing.TB, db *gorm.DB, member uint64) []model.Notification {
	t.Helper()
	var rows []model.Notification
	if err := db.Where("member_id = ?", member).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// fakeTemplate records template messages; fail, when set, decides the outcome of call n.
type fakeTemplate struct {
	mu    sync.Mutex
	calls int
	msgs  []TemplateMessage
	fail  func(n int, m TemplateMessage) error
}

func (f *fakeTemplate) SendTemplate(ctx context.Context, m TemplateMessage) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		if err := f.fail(f.calls, m); err != nil {
			return 0, err
		}
	}
	f.msgs = append(f.msgs, m)
	return int64(f.calls), nil
}

func (f *fakeTemplate) sent() []TemplateMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TemplateMessage(nil), f.msgs...)
}

type fakeSubscribe struct {
	mu   sync.Mutex
	msgs []SubscribeMessage
	fail func(m SubscribeMessage) error
}

func (f *fakeSubscribe) SendSubscribe(ctx context.Context, m SubscribeMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(m); err != nil {
			return err
		}
	}
	f.msgs = append(f.msgs, m)
	return nil
}

type smsMsg struct{ phone, text string }

type fakeSMS struct {
	mu   sync.Mutex
	msgs []smsMsg
	fail func(phone string) error
}

func (f *fakeSMS) Send(ctx context.Context, phone, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(phone); err != nil {
			return err
		}
	}
	f.msgs = append(f.msgs, smsMsg{phone, text})
	return nil
}

func (f *fakeSMS) sent() []smsMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]smsMsg(nil), f.msgs...)
}

// wxProxy stands between the wechat client and the fake WeChat server. It injects faults at
// random (an errcode -1 answer without forwarding; or forwarding and then dropping the
// connection, so the sender cannot know whether WeChat delivered), emulates WeChat's
// client_msg_id de-duplication of template messages, and counts real deliveries.
type wxProxy struct {
	URL  string
	fake *wechattest.Fake

	mu        sync.Mutex
	rnd       *rand.Rand
	failRate  float64 // share of message calls answered -1
	dropRate  float64 // share of template calls forwarded and then dropped
	slowRate  float64 // share of message calls answered after slowFor
	slowFor   time.Duration
	delivered map[string]int
	msgIDs    map[int64]bool   // msgids seen: a repeat answered with the first msgid is no delivery
	byClient  map[string]int64 // touser|client_msg_id → msgid of the first delivery
	deduped   int
	faults    int
	slow      int
}

func newWXProxy(t testing.TB, failRate, dropRate float64, edit ...func(*wechat.Options)) (*wxProxy, *wechat.Client) {
	t.Helper()
	fake := wechattest.New(t)
	p := &wxProxy{fake: fake, rnd: rand.New(rand.NewPCG(1, 2)), failRate: failRate, dropRate: dropRate,
		delivered: map[string]int{}, byClient: map[string]int64{}, msgIDs: map[int64]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	wx := fake.Client(t, append([]func(*wechat.Options){func(o *wechat.Options) { o.APIBase = srv.URL }}, edit...)...)
	return p, wx
}

var forward = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

func (p *wxProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	isMsg := r.URL.Path == wechattest.PathTemplateSend || r.URL.Path == wechattest.PathSubscribeSend
	var m wechattest.Message
	_ = json.Unmarshal(body, &m)
	key := m.ToUser + "|" + m.ClientMsgID
	if m.ClientMsgID == "" {
		key = m.ToUser + "|" + m.Page
	}
	drop := false
	if isMsg {
		p.mu.Lock()
		if id, ok := p.byClient[key]; ok && r.URL.Path == wechattest.PathTemplateSend {
			p.deduped++
			p.mu.Unlock()
			fmt.Fprintf(w, `{"errcode":0,"errmsg":"ok","msgid":%d}`, id)
			return
		}
		x := p.rnd.Float64()
		if x < p.failRate {
			p.faults++
			p.mu.Unlock()
			fmt.Fprint(w, `{"errcode":-1,"errmsg":"system error"}`)
			return
		}
		drop = r.URL.Path == wechattest.PathTemplateSend && x < p.failRate+p.dropRate
		slow := x >= p.failRate+p.dropRate && x < p.failRate+p.dropRate+p.slowRate
		p.mu.Unlock()
		if slow {
			p.mu.Lock()
			p.slow++
			p.mu.Unlock()
			time.Sleep(p.slowFor) // and then deliver, even if the caller gave up waiting
		}
	}
	req, _ := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, p.fake.URL+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := forward.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if isMsg {
		var res struct {
			ErrCode int64 `json:"errcode"`
			MsgID   int64 `json:"msgid"`
		}
		_ = json.Unmarshal(out, &res)
		if res.ErrCode == 0 && !p.seen(res.MsgID) {
			p.mu.Lock()
			p.delivered[key]++
			if m.ClientMsgID != "" {
				p.byClient[key] = res.MsgID
			}
			p.mu.Unlock()
		}
	}
	if drop {
		p.mu.Lock()
		p.faults++
		p.mu.Unlock()
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// seen reports whether msgid was answered before, and remembers it.
func (p *wxProxy) seen(msgID int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if msgID == 0 {
		return false
	}
	if p.msgIDs[msgID] {
		return true
	}
	p.msgIDs[msgID] = true
	return false
}

// deliveries returns how many times each message key was delivered.
func (p *wxProxy) deliveries() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.delivered))
	for k, v := range p.delivered {
		out[k] = v
	}
	return out
}
