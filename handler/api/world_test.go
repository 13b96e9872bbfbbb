package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/handler"
	"huzhu/handler/api"
	"huzhu/model"
	"huzhu/service/blob"
	"huzhu/service/calendar"
	"huzhu/service/claim"
	"huzhu/service/kv/kvtest"
	"huzhu/service/member"
	"huzhu/service/payout"
	"huzhu/service/pii"
	"huzhu/service/policy"
	"huzhu/service/session"
	"huzhu/service/settlement"
	"huzhu/service/stats"
	"huzhu/service/store/storetest"
	"huzhu/service/wechat/wechattest"
)

// world is the mini-program's view of a running huzhu: the app over real services on the test
// database, a fake WeChat server, a settable clock and a recording SMS sender.
type world struct {
	app    *fiber.App
	db     *gorm.DB
	fake   *wechattest.Fake
	cipher *pii.Cipher
	spec   *spec
	sms    *smsRecorder
	claims *claim.Service

	mu  sync.Mutex
	now time.Time
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

type smsRecorder struct {
	mu   sync.Mutex
	sent []string // "phone|text"
}

func (s *smsRecorder) Send(_ context.Context, phone, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, phone+"|"+text)
	return nil
}

func (s *smsRecorder) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sent) == 0 {
		return ""
	}
	return s.sent[len(s.sent)-1]
}

// today of the world: mid-June 2025, after the first quarter's and February's settlements.
var start = time.Date(2025, 6, 15, 10, 0, 0, 0, model.Shanghai)

func newWorld(t *testing.T, opts ...func(*member.Options)) *world {
	t.Helper()
	w := &world{db: storetest.NewDB(t), fake: wechattest.New(t), spec: loadSpec(t), sms: &smsRecorder{}, now: start}
	kvs := kvtest.New(t)
	cipher, err := pii.New([]byte("test-pii-key-0123456789abcdef-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	w.cipher = cipher
	sessions, err := session.New([]byte("test-session-secret-0123456789abcdef"), session.Options{}, w.clock)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.Load(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	mo := member.Options{Templates: []string{"TPL_ARRIVED", "TPL_APPROVED"}}
	for _, o := range opts {
		o(&mo)
	}
	members := member.New(w.db, cipher, sessions, w.fake.Client(t), kvs, w.sms, mo, w.clock, nil)
	payouts := payout.New(w.db, engine, calendar.New(model.Shanghai), payout.Options{}, w.clock)
	w.app = handler.New(handler.Options{BodyLimit: 64 << 10, UploadLimit: 1 << 20})
	docs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w.claims = claim.New(w.db, cipher, docs, payouts, claim.Options{SpoolDir: t.TempDir()}, w.clock, nil)
	api.New(stats.New(w.db, kvs, time.Minute, w.clock), members, payouts).WithClaims(w.claims).Mount(w.app)
	return w
}

// person is a roster member as the worker knows their own numbers.
type person struct {
	ID                                  uint64
	Name, IDNumber, Jing, Social, Phone string
	openID, unionID                     string
}

func idNumber(first17 string) string { return first17 + string(pii.CheckDigit(first17)) }

// seed writes two unions, three members and their 医保 records, settles 2025-Q1 (outpatient)
// and 2025-02 (inpatient), and pays: A's outpatient line arrived on A's 京卡; A's inpatient
// transfer failed and was re-issued; B's line is approved only. It returns A, B and C (C has no
// 京卡 and is paid to a bank card).
func (w *world) seed(t *testing.T) (a, b, c person) {
	t.Helper()
	ctx := context.Background()
	unions := []model.Union{{Code: "U1", Name: "北京示例科技有限公司工会", District: "海淀区", PaysDues: true},
		{Code: "U2", Name: "示例医院工会", District: "东城区", PaysDues: true}}
	must(t, w.db.Create(&unions).Error)
	a = person{Name: "李示例", IDNumber: idNumber("11010119900101123"), Jing: "6217990000001234", Social: "912345678901", Phone: "13800001234", openID: "openid-a", unionID: "unionid-a"}
	b = person{Name: "王示例", IDNumber: idNumber("11010119850505432"), Jing: "6217990000005678", Social: "912345678902", Phone: "13900005678", openID: "openid-b", unionID: "unionid-b"}
	c = person{Name: "张示例", IDNumber: idNumber("11010119920303222"), Social: "912345678903", Phone: "13700009999", openID: "openid-c"}
	for i, p := range []*person{&a, &b, &c} {
		m := model.Member{UnionID: unions[i%2].ID, Name: p.Name, InsuredBeijing: true, Employment: model.EmploymentInService,
			Kind: model.WorkerUrban, Participation: model.ParticipationFree, JoinedOn: "2015-03-01"}
		seal := func(kind, v string) pii.Sealed { return w.cipher.Seal(kind, v) }
		s := seal(pii.KindIDNumber, p.IDNumber)
		m.IDNumberEnc, m.IDNumberHash, m.IDLast4 = s.Enc, s.Hash, s.Last4
		s = seal(pii.KindJingCard, p.Jing)
		m.JingCardEnc, m.JingCardHash, m.JingCardLast4 = s.Enc, s.Hash, s.Last4
		s = seal(pii.KindSocialCard, p.Social)
		m.SocialCardEnc, m.SocialCardHash, m.SocialCardLast4 = s.Enc, s.Hash, s.Last4
		s = seal(pii.KindPhone, p.Phone)
		m.PhoneEnc, m.PhoneHash, m.PhoneLast4 = s.Enc, s.Hash, s.Last4
		if p == &a {
			m.Hardship, m.HardshipFrom = true, "2025-01-01"
		}
		if p == &c {
			bank := seal(pii.KindBank, "6222000000004321")
			m.BankCode, m.BankAccountEnc, m.BankAccountHash, m.BankAccountLast4 = model.BankICBC, bank.Enc, bank.Hash, bank.Last4
		}
		must(t, w.db.Create(&m).Error)
		p.ID = m.ID
	}
	recs := []model.MedicalRecord{
		{RecordNo: "R1", MemberID: a.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2025-01-10", Hospital: "示例第一医院", SelfPay1Fen: 100000, TotalFen: 300000, FundPaidFen: 200000},
		{RecordNo: "R2", MemberID: a.ID, ClaimType: model.ClaimInpatient, VisitDate: "2025-02-20", Hospital: "示例中医医院", SelfPay1Fen: 500000, TotalFen: 1500000, FundPaidFen: 1000000},
		{RecordNo: "R3", MemberID: a.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2025-05-03", Hospital: "示例社区卫生服务中心", SelfPay1Fen: 20000, TotalFen: 50000, FundPaidFen: 30000},
		{RecordNo: "R4", MemberID: b.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2025-01-15", Hospital: "示例区医院", SelfPay1Fen: 50000, TotalFen: 100000, FundPaidFen: 50000},
		{RecordNo: "R5", MemberID: b.ID, ClaimType: model.ClaimOutpatient, VisitDate: "2025-05-20", Hospital: "示例区医院", SelfPay1Fen: 30000, TotalFen: 60000, FundPaidFen: 30000},
	}
	must(t, w.db.Create(&recs).Error)

	versions, _ := policy.ParseYAML(config.PolicyYAML)
	engine, _ := policy.New(versions)
	cal := calendar.New(model.Shanghai)
	settle := settlement.New(w.db, engine, cal, kvtest.New(t), settlement.Options{}, w.clock, nil)
	for _, key := range []string{"2025-Q1", "2025-02"} {
		p, err := cal.ParsePeriod(key)
		must(t, err)
		run, err := settle.Compute(ctx, p, asActor("test"))
		must(t, err)
		_, err = settle.Approve(ctx, run.ID, asActor("checker"))
		must(t, err)
	}
	line := func(recordNo string) model.PayoutLine {
		var l model.PayoutLine
		must(t, w.db.Joins("JOIN medical_records r ON r.id = payout_lines.record_id").Where("r.record_no = ?", recordNo).Take(&l).Error)
		return l
	}
	batch := model.PaymentBatch{RunID: line("R1").RunID, Bank: model.BankBOB, FileName: "t.csv", CreatedBy: "test"}
	must(t, w.db.Create(&batch).Error)
	arrived := time.Date(2025, 5, 6, 15, 0, 0, 0, model.Shanghai)
	l1 := line("R1")
	t1 := model.Transfer{Ref: "T1", BatchID: batch.ID, RunID: l1.RunID, MemberID: a.ID, Bank: model.BankBOB, AccountKind: "jingka",
		AccountLast4: "1234", AmountFen: l1.AmountFen, Status: model.LineArrived, ArrivedAt: &arrived}
	must(t, w.db.Create(&t1).Error)
	must(t, w.db.Model(&l1).Updates(map[string]any{"status": model.LineArrived, "transfer_id": t1.ID, "arrived_at": arrived}).Error)
	l2 := line("R2")
	t2 := model.Transfer{Ref: "T2", BatchID: batch.ID, RunID: l2.RunID, MemberID: a.ID, Bank: model.BankBOB, AccountKind: "jingka",
		AccountLast4: "1234", AmountFen: l2.AmountFen, Status: model.LineFailed, FailReason: "账户状态异常"}
	must(t, w.db.Create(&t2).Error)
	t3 := model.Transfer{Ref: "T3", BatchID: batch.ID, RunID: l2.RunID, MemberID: a.ID, Bank: model.BankBOB, AccountKind: "jingka",
		AccountLast4: "1234", AmountFen: l2.AmountFen, Status: model.LineTransfering, ReissueOf: t2.ID}
	must(t, w.db.Create(&t3).Error)
	must(t, w.db.Model(&l2).Updates(map[string]any{"status": model.LineTransfering, "transfer_id": t3.ID}).Error)
	return a, b, c
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// resp is one answer of the app.
type resp struct {
	status int
	body   []byte
	m      map[string]any
}

func (r resp) str(key string) string { s, _ := r.m[key].(string); return s }

// call sends one request as the mini-program would and checks the answer against openapi.json.
func (w *world) call(t *testing.T, method, path, token, body string) resp {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r, err := w.app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(r.Body)
	out := resp{status: r.StatusCode, body: b}
	_ = json.Unmarshal(b, &out.m)
	if err := w.spec.checkResponse(method, path, r.StatusCode, b); err != nil {
		t.Errorf("%v\nbody: %s", err, b)
	}
	return out
}

// login logs p in through the fake WeChat and returns the token.
func (w *world) login(t *testing.T, p person) string {
	t.Helper()
	code := fmt.Sprintf("code-%s-%d", p.openID, time.Now().UnixNano())
	w.fake.Code2SessionFor(code, p.openID, p.unionID)
	r := w.call(t, "POST", "/api/v1/session", "", `{"code":"`+code+`"}`)
	if r.status != 200 || r.str("token") == "" {
		t.Fatalf("login %s = %d %s", p.Name, r.status, r.body)
	}
	return r.str("token")
}

func (p person) bindBody() string {
	b, _ := json.Marshal(map[string]string{"name": p.Name, "id_number": p.IDNumber, "jing_card": p.Jing, "phone": p.Phone})
	if p.Jing == "" {
		b, _ = json.Marshal(map[string]string{"name": p.Name, "id_number": p.IDNumber, "social_card": p.Social, "phone": p.Phone})
	}
	return string(b)
}

// bindBody is p's binding request with a fresh phone-number code for p's phone, as the
// mini-program sends it after the worker taps the phone-number button.
func (w *world) bindBody(t *testing.T, p person) string {
	t.Helper()
	var m map[string]any
	must(t, json.Unmarshal([]byte(p.bindBody()), &m))
	m["phone_code"] = w.phoneCode(p.Phone)
	b, _ := json.Marshal(m)
	return string(b)
}

// phoneCode registers a fresh phone-number code for phone with the fake WeChat.
func (w *world) phoneCode(phone string) string {
	code := fmt.Sprintf("phone-%d", time.Now().UnixNano())
	w.fake.PhoneNumberFor(code, phone)
	return code
}

// loginBound logs p in and binds them.
func (w *world) loginBound(t *testing.T, p person) string {
	t.Helper()
	tok := w.login(t, p)
	if r := w.call(t, "POST", "/api/v1/binding", tok, w.bindBody(t, p)); r.status != 201 {
		t.Fatalf("bind %s = %d %s", p.Name, r.status, r.body)
	}
	return tok
}
