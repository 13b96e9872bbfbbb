package member_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/kv/kvtest"
	"huzhu/service/member"
	"huzhu/service/pii"
	"huzhu/service/session"
	"huzhu/service/store/storetest"
	"huzhu/service/wechat/wechattest"
)

var now = time.Date(2025, 6, 15, 10, 0, 0, 0, model.Shanghai)

type fixture struct {
	db     *gorm.DB
	svc    *member.Service
	fake   *wechattest.Fake
	cipher *pii.Cipher
	m      model.Member
	req    member.BindRequest
	sms    *smsRecorder
}

// smsRecorder records the texts sent, as an SMS gateway would deliver them.
type smsRecorder struct {
	mu   sync.Mutex
	sent []string // "phone|text"
}

func (r *smsRecorder) Send(_ context.Context, phone, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, phone+"|"+text)
	return nil
}

// code returns the six-digit code of the last text.
func (r *smsRecorder) code(t *testing.T) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == 0 {
		t.Fatal("no SMS sent")
	}
	_, text, _ := strings.Cut(r.sent[len(r.sent)-1], "|")
	i := strings.Index(text, "验证码")
	return text[i+len("验证码"):][:6]
}

func newFixture(t *testing.T, o member.Options) *fixture {
	t.Helper()
	f := &fixture{db: storetest.NewDB(t), fake: wechattest.New(t), sms: &smsRecorder{}}
	var err error
	if f.cipher, err = pii.New([]byte("member-test-pii-key-0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	sessions, err := session.New([]byte("member-test-session-secret-0123456789"), session.Options{}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	f.svc = member.New(f.db, f.cipher, sessions, f.fake.Client(t), kvtest.New(t), f.sms, o, func() time.Time { return now }, nil)
	u := model.Union{Code: "U1", Name: "示例工会", PaysDues: true}
	mustDo(t, f.db.Create(&u).Error)
	id := "11010119900101123"
	id += string(pii.CheckDigit(id))
	f.req = member.BindRequest{Name: "李示例", IDNumber: id, JingCard: "6217990000001234", Phone: "13800001234"}
	f.m = model.Member{UnionID: u.ID, Name: f.req.Name, InsuredBeijing: true, Employment: model.EmploymentInService,
		Kind: model.WorkerUrban, Participation: model.ParticipationFree}
	s := f.cipher.Seal(pii.KindIDNumber, id)
	f.m.IDNumberEnc, f.m.IDNumberHash, f.m.IDLast4 = s.Enc, s.Hash, s.Last4
	s = f.cipher.Seal(pii.KindJingCard, f.req.JingCard)
	f.m.JingCardEnc, f.m.JingCardHash, f.m.JingCardLast4 = s.Enc, s.Hash, s.Last4
	s = f.cipher.Seal(pii.KindPhone, f.req.Phone)
	f.m.PhoneEnc, f.m.PhoneHash, f.m.PhoneLast4 = s.Enc, s.Hash, s.Last4
	mustDo(t, f.db.Create(&f.m).Error)
	return f
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) login(t *testing.T, openID, unionID string) (member.Login, member.Principal) {
	t.Helper()
	code := fmt.Sprintf("c-%s-%d", openID, time.Now().UnixNano())
	f.fake.Code2SessionFor(code, openID, unionID)
	l, err := f.svc.Login(context.Background(), code, "10.0.0.1")
	if err != nil {
		t.Fatalf("Login(%s): %v", openID, err)
	}
	p, err := f.svc.Authenticate(context.Background(), l.Token.Value)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return l, p
}

// TestLoginLinksOfficialAccount: a worker the bot already knows (official-account row with the
// same unionid, bound) is the same account in the mini-program.
func TestLoginLinksOfficialAccount(t *testing.T) {
	f := newFixture(t, member.Options{})
	oa, union := "oa-openid", "union-1"
	bound := now
	mustDo(t, f.db.Create(&model.WeChatAccount{OAOpenID: &oa, UnionID: &union, MemberID: &f.m.ID, BoundAt: &bound, Following: true}).Error)
	l, p := f.login(t, "mp-openid", union)
	if !l.Bound || p.MemberID != f.m.ID {
		t.Fatalf("login = %+v %+v, want bound to member %d", l, p, f.m.ID)
	}
	var rows []model.WeChatAccount
	f.db.Find(&rows)
	if len(rows) != 1 || rows[0].MPOpenID == nil || *rows[0].MPOpenID != "mp-openid" || rows[0].OAOpenID == nil {
		t.Errorf("accounts = %+v, want one row with both openids", rows)
	}

	// A mini-program user first seen without unionid, later with it, merges with the OA row.
	oa2, union2 := "oa-2", "union-2"
	mustDo(t, f.db.Create(&model.WeChatAccount{OAOpenID: &oa2, UnionID: &union2, Following: true}).Error)
	_, p1 := f.login(t, "mp-2", "")
	_, p2 := f.login(t, "mp-2", union2)
	if p1.AccountID != p2.AccountID {
		t.Errorf("second login got account %d, want %d", p2.AccountID, p1.AccountID)
	}
	var merged model.WeChatAccount
	mustDo(t, f.db.Take(&merged, p2.AccountID).Error)
	if merged.OAOpenID == nil || *merged.OAOpenID != oa2 || !merged.Following {
		t.Errorf("merged = %+v, want the official-account openid and following", merged)
	}
	var n int64
	f.db.Model(&model.WeChatAccount{}).Count(&n)
	if n != 2 {
		t.Errorf("accounts = %d, want 2 after the merge", n)
	}
}

func TestLoginErrors(t *testing.T) {
	f := newFixture(t, member.Options{LoginsPerMinute: 3})
	ctx := context.Background()
	tests := []struct {
		name    string
		inject  int64
		code    string
		want    errs.Kind
		errCode string
	}{
		{"unknown code", 0, "nope", errs.KindUnauthenticated, "login.code_invalid"},
		{"wechat rate limit", 45011, "x", errs.KindTooMany, "login.too_many"},
		{"wechat busy", -1, "x", errs.KindUnavailable, "login.wechat_unavailable"},
		{"our per-IP limit", 0, "nope", errs.KindTooMany, "login.too_many"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.inject != 0 {
				f.fake.FailNext(wechattest.PathCode2Session, tc.inject, 1)
			}
			_, err := f.svc.Login(ctx, tc.code, "10.9.9.9")
			e, ok := errs.As(err)
			if !ok || e.Kind != tc.want || e.Code != tc.errCode {
				t.Errorf("Login = %v, want %v %s", err, tc.want, tc.errCode)
			}
		})
	}
	if _, err := f.svc.Login(ctx, "", "10.0.0.2"); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("empty code = %v, want Invalid", err)
	}
}

// TestLockOuts: the per-IP limit holds across accounts, so many WeChat accounts on one address
// cannot share the guessing; an account is locked for one ID number after AccountFailures.
func TestLockOuts(t *testing.T) {
	f := newFixture(t, member.Options{Proof: member.ProofNone, AccountFailures: 2, IPFailures: 3})
	ctx := context.Background()
	wrong := f.req
	wrong.Phone = "13800009999"
	var attempts []error
	for i := range 4 {
		_, p := f.login(t, fmt.Sprintf("guess-%d", i), "")
		_, err := f.svc.Bind(ctx, p, wrong, "10.1.1.1")
		attempts = append(attempts, err)
	}
	for i, err := range attempts[:3] {
		if !errors.Is(err, member.ErrNoMatch) {
			t.Errorf("attempt %d = %v, want no_match", i+1, err)
		}
	}
	if e, ok := errs.As(attempts[3]); !ok || e.Code != "binding.locked" || e.RetryAfter <= 0 || !strings.Contains(e.Message, "24小时") {
		t.Errorf("4th attempt from the IP = %v, want binding.locked with RetryAfter and the wait in the message", attempts[3])
	}
	// From another IP, one account is locked for the ID number after its 2nd failure.
	_, p := f.login(t, "guess-x", "")
	for i := range 2 {
		if _, err := f.svc.Bind(ctx, p, wrong, "10.2.2.2"); !errors.Is(err, member.ErrNoMatch) {
			t.Errorf("failure %d of the account = %v, want no_match", i+1, err)
		}
	}
	if _, err := f.svc.Bind(ctx, p, f.req, "10.2.2.2"); errs.KindOf(err) != errs.KindTooMany {
		t.Errorf("the account's correct attempt while locked = %v, want TooMany", err)
	} else if e, _ := errs.As(err); !strings.Contains(e.Fix, fmt.Sprintf("微信账号编号：%d", p.AccountID)) {
		t.Errorf("lock fix = %q, want the account number staff need to lift it", e.Fix)
	}
	var n int64
	f.db.Model(&model.AuditLog{}).Where("action = ? AND outcome = ?", "binding.attempt", "failed").Count(&n)
	if n != 5 {
		t.Errorf("failed audit rows = %d, want 5", n)
	}
}

// TestStrangerCannotLockWorker: failures typed with a worker's ID number from other accounts
// and another address do not stop the worker binding from their own account; they lock only
// the stranger.
func TestStrangerCannotLockWorker(t *testing.T) {
	f := newFixture(t, member.Options{Proof: member.ProofNone})
	ctx := context.Background()
	wrong := f.req
	wrong.JingCard = "6217990000009999"
	var last error
	for i := range 18 {
		_, p := f.login(t, fmt.Sprintf("stranger-%d", i%3), "")
		_, last = f.svc.Bind(ctx, p, wrong, "10.66.0.1")
	}
	if errs.KindOf(last) != errs.KindTooMany {
		t.Errorf("the stranger's 18th attempt = %v, want the stranger locked", last)
	}
	_, p := f.login(t, "worker", "")
	if _, err := f.svc.Bind(ctx, p, f.req, "10.1.2.3"); err != nil {
		t.Fatalf("the worker's own bind after a stranger's failures = %v, want bound", err)
	}
}

// TestLockMessageMinutes: the locked answer says how long to wait.
func TestLockMessageMinutes(t *testing.T) {
	f := newFixture(t, member.Options{Proof: member.ProofNone, AccountFailures: 1, FailureWindow: 90 * time.Minute})
	ctx := context.Background()
	wrong := f.req
	wrong.Name = "李某"
	_, p := f.login(t, "slow", "")
	_, _ = f.svc.Bind(ctx, p, wrong, "10.0.0.9")
	_, err := f.svc.Bind(ctx, p, wrong, "10.0.0.9")
	if e, ok := errs.As(err); !ok || e.Code != "binding.locked" || !strings.Contains(e.Message, "1小时30分钟") {
		t.Errorf("locked = %v, want the wait of 1小时30分钟 in the message", err)
	}
}

func TestBindAndProfile(t *testing.T) {
	f := newFixture(t, member.Options{Proof: member.ProofNone})
	ctx := context.Background()
	_, p := f.login(t, "mp-a", "")
	spaced := f.req
	spaced.Name, spaced.JingCard, spaced.Phone, spaced.IDNumber = " 李 示例 ", "6217 9900 0000 1234", "+8613800001234", f.req.IDNumber[:17]+"x"
	if f.req.IDNumber[17] != 'X' {
		spaced.IDNumber = f.req.IDNumber
	}
	pr, err := f.svc.Bind(ctx, p, spaced, "10.0.0.1")
	if err != nil {
		t.Fatalf("Bind with spaces and +86: %v", err)
	}
	if pr.IDNumber != "尾号"+f.req.IDNumber[14:] || pr.JingCard != "尾号1234" || pr.Union.Name != "示例工会" {
		t.Errorf("profile = %+v", pr)
	}
	if _, err := f.svc.Profile(ctx, member.Principal{AccountID: p.AccountID, MemberID: f.m.ID + 1}); !errors.Is(err, member.ErrNotBound) {
		t.Errorf("Profile with a member id not bound to the account = %v, want ErrNotBound", err)
	}
	e, err := f.svc.Eligibility(ctx, member.Principal{AccountID: p.AccountID, MemberID: f.m.ID})
	if err != nil || e.Decision.Status != "eligible" || e.Date != "2025-06-15" {
		t.Errorf("Eligibility = %+v, %v", e, err)
	}
}

func TestPreferences(t *testing.T) {
	f := newFixture(t, member.Options{})
	ctx := context.Background()
	_, p := f.login(t, "mp-p", "")
	yes := true
	got, err := f.svc.UpdatePreferences(ctx, p, member.PreferencesUpdate{Results: map[string]string{"B": "accept", "A": "accept", "C": "reject"}, SMSOptOut: &yes})
	if err != nil || fmt.Sprint(got.Subscriptions) != "[A B]" || !got.SMSOptOut {
		t.Fatalf("UpdatePreferences = %+v, %v", got, err)
	}
	var acct model.WeChatAccount
	mustDo(t, f.db.Take(&acct, p.AccountID).Error)
	if acct.Subscriptions != "A,B" {
		t.Errorf("stored = %q, want the comma list notify reads", acct.Subscriptions)
	}
	tests := []struct {
		name  string
		u     member.PreferencesUpdate
		field string
	}{
		{"bad id", member.PreferencesUpdate{Results: map[string]string{"a b": "accept"}}, "subscriptions"},
		{"bad result", member.PreferencesUpdate{Results: map[string]string{"A": "maybe"}}, "subscriptions.A"},
		{"too many", member.PreferencesUpdate{Results: map[string]string{"T1": "accept", "T2": "accept", "T3": "accept", "T4": "accept", "T5": "accept", "T6": "accept"}}, "subscriptions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.UpdatePreferences(ctx, p, tc.u)
			if e, ok := errs.As(err); !ok || e.Kind != errs.KindInvalid || e.Field != tc.field {
				t.Errorf("UpdatePreferences(%v) = %v, want Invalid on %s", tc.u.Results, err, tc.field)
			}
		})
	}
}

// TestBindingCache checks the cache of bound accounts behind Authenticate: a fresh binding is
// seen at once (unbound accounts are not cached), the worker's own unbinding at once, and an
// unbinding made elsewhere (staff, another process) once the TTL has passed.
func TestBindingCache(t *testing.T) {
	const ttl = 200 * time.Millisecond
	f := newFixture(t, member.Options{BindingCacheTTL: ttl, Proof: member.ProofNone})
	ctx := context.Background()
	l, p := f.login(t, "mp-cache", "")
	auth := func() member.Principal {
		t.Helper()
		p, err := f.svc.Authenticate(ctx, l.Token.Value)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		return p
	}
	if p.MemberID != 0 {
		t.Fatalf("new account bound to %d", p.MemberID)
	}
	// Bound behind the service's back (as staff tooling could): seen by the very next request.
	mustDo(t, f.db.Model(&model.WeChatAccount{}).Where("id = ?", p.AccountID).Update("member_id", f.m.ID).Error)
	if got := auth().MemberID; got != f.m.ID {
		t.Fatalf("after binding in the database, member = %d, want %d", got, f.m.ID)
	}
	// Unbound elsewhere: the cached binding holds for at most the TTL.
	mustDo(t, f.db.Model(&model.WeChatAccount{}).Where("id = ?", p.AccountID).Update("member_id", nil).Error)
	if got := auth().MemberID; got != f.m.ID {
		t.Errorf("within the TTL, member = %d, want the cached %d", got, f.m.ID)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if got := auth().MemberID; got != 0 {
		t.Fatalf("after the TTL, member = %d, want 0 (unbound)", got)
	}
	// The worker's own unbinding through the service ends the cached binding at once.
	pb, err := f.svc.Bind(ctx, member.Principal{AccountID: p.AccountID}, f.req, "10.0.0.1")
	if err != nil {
		t.Fatalf("Bind: %v (%+v)", err, pb)
	}
	if got := auth().MemberID; got != f.m.ID {
		t.Fatalf("after Bind, member = %d", got)
	}
	if err := f.svc.Unbind(ctx, member.Principal{AccountID: p.AccountID, MemberID: f.m.ID}, "10.0.0.1"); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	if got := auth().MemberID; got != 0 {
		t.Errorf("right after Unbind, member = %d, want 0", got)
	}
	// Unbound by staff through the same service: the cached binding ends at once.
	mustDo(t, f.db.Model(&model.WeChatAccount{}).Where("id = ?", p.AccountID).Update("member_id", f.m.ID).Error)
	if got := auth().MemberID; got != f.m.ID {
		t.Fatalf("bound again, member = %d", got)
	}
	op := model.Actor{Username: "op", Role: model.RoleOperator, Via: model.ViaConsole}
	if err := f.svc.UnbindMember(ctx, op, f.m.ID); err != nil {
		t.Fatalf("UnbindMember: %v", err)
	}
	if got := auth().MemberID; got != 0 {
		t.Errorf("right after staff unbound it, member = %d, want 0", got)
	}
}

// TestBindingCacheOff checks that a negative TTL reads the binding on every request.
func TestBindingCacheOff(t *testing.T) {
	f := newFixture(t, member.Options{BindingCacheTTL: -1})
	ctx := context.Background()
	l, p := f.login(t, "mp-nocache", "")
	mustDo(t, f.db.Model(&model.WeChatAccount{}).Where("id = ?", p.AccountID).Update("member_id", f.m.ID).Error)
	if got, _ := f.svc.Authenticate(ctx, l.Token.Value); got.MemberID != f.m.ID {
		t.Fatalf("member = %d, want %d", got.MemberID, f.m.ID)
	}
	mustDo(t, f.db.Model(&model.WeChatAccount{}).Where("id = ?", p.AccountID).Update("member_id", nil).Error)
	if got, _ := f.svc.Authenticate(ctx, l.Token.Value); got.MemberID != 0 {
		t.Errorf("with the cache off, member = %d right after unbinding, want 0", got.MemberID)
	}
}
