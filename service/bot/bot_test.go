package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/kv/kvtest"
	"huzhu/service/payout"
	"huzhu/service/policy"
	"huzhu/service/store/storetest"
)

// testNow is the pinned clock of these tests: a Saturday in May 2025, Asia/Shanghai.
var testNow = time.Date(2025, 5, 10, 10, 0, 0, 0, model.Shanghai)

func newTestBot(t *testing.T) (*Bot, *gorm.DB) {
	t.Helper()
	db := storetest.NewDB(t)
	return New(shippedKB(t), calendar.New(model.Shanghai), db, testFigures(t, db, func() time.Time { return testNow }), kvtest.New(t), Options{},
		func() time.Time { return testNow }, nil), db
}

// testFigures is the payout service over db under the shipped policy, as the bot's figures.
func testFigures(t testing.TB, db *gorm.DB, now func() time.Time) *payout.Service {
	t.Helper()
	engine, err := policy.Load(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	return payout.New(db, engine, calendar.New(model.Shanghai), payout.Options{}, now)
}

type turn struct {
	say   string
	wants []string // substrings of the reply
	not   []string // substrings the reply must not have
}

func TestEligibilityDialogue(t *testing.T) {
	tests := []struct {
		name  string
		turns []turn
	}{
		{"several slots in one message, then a verdict that needs the card", []turn{
			{say: "我能参加吗", wants: []string{"北京本市用人单位的在职职工", question(slotInsured)}},
			{say: "医保在北京交的，也入了工会，但是没有京卡", wants: []string{question(slotEmployment)}},
			{say: "1", wants: []string{question(slotDues)}},
			{say: "交的", wants: []string{"还差一步", "申领京卡"}},
			{say: "最高报多少", wants: []string{"200653元"}, not: []string{"您是单位工会"}},
		}},
		{"a question in the middle is answered and the slot asked again", []turn{
			{say: "我想知道我能不能报", wants: []string{question(slotInsured)}},
			{say: "是", wants: []string{question(slotEmployment)}},
			{say: "在职", wants: []string{question(slotUnion)}},
			{say: "京卡是啥？", wants: []string{"银行联名卡", "我们接着刚才的问题", question(slotUnion)}},
			{say: "是会员", wants: []string{question(slotDues)}},
		}},
		{"don't know beats yes and the verdict says what is unknown", []turn{
			{say: "我符合条件吗", wants: []string{question(slotInsured)}},
			{say: "1", wants: []string{question(slotEmployment)}},
			{say: "1 在职", wants: []string{question(slotUnion)}},
			{say: "是的", wants: []string{question(slotDues)}},
			{say: "是不是交了我也不知道", wants: []string{question(slotCard)}},
			{say: "有", wants: []string{"还不能确定", "上解工会经费", "12351"}},
		}},
		{"negation beats affirmation", []turn{
			{say: "我能参加吗", wants: []string{question(slotInsured)}},
			{say: "是在北京上班，在职的，不过我没有入工会", wants: []string{"暂时不能免费参加", "工会会员", "缴费参保"}},
		}},
		{"retired is decided at once", []turn{
			{say: "我能参加吗", wants: []string{question(slotInsured)}},
			{say: "已经退休了", wants: []string{"暂时不能免费参加", "退休人员不在本计划范围内"}},
		}},
		{"新农合 answers the kind", []turn{
			{say: "我是农民工，我能报吗", wants: []string{"2013年5月", question(slotInsured)}},
			{say: "我是老家的新农合", wants: []string{question(slotEmployment)}},
			{say: "上班", wants: []string{question(slotUnion)}},
		}},
		{"no Beijing insurance asks whether it is 新农合", []turn{
			{say: "我能参加吗", wants: []string{question(slotInsured)}},
			{say: "2", wants: []string{question(slotEmployment)}},
			{say: "1", wants: []string{question(slotKind)}},
			{say: "2", wants: []string{"暂时不能免费参加", "没有参加北京市基本医疗保险"}},
		}},
		{"exit at any point, then questions are answered normally", []turn{
			{say: "我想参加，我够条件吗", wants: []string{question(slotInsured)}},
			{say: "退出", wants: []string{"不问了"}},
			{say: "1", wants: []string{"绑定"}, not: []string{"您在北京参加了"}},
		}},
		{"restart", []turn{
			{say: "我能参加吗", wants: []string{question(slotInsured)}},
			{say: "是", wants: []string{question(slotEmployment)}},
			{say: "重新开始", wants: []string{"重新开始", question(slotInsured)}},
		}},
		{"an unclear reply is asked again", []turn{
			{say: "我能参加吗", wants: []string{question(slotInsured)}},
			{say: "呃呃呃", wants: []string{"没太明白", question(slotInsured)}},
		}},
		{"a general question gets its answer, no quiz", []turn{
			{say: "谁能参加这个互助保障", wants: []string{"北京本市用人单位的在职职工"}, not: []string{question(slotInsured)}},
			{say: "1", wants: []string{"绑定"}, not: []string{question(slotEmployment)}},
		}},
		{"a general question about 新农合 gets its answer, no quiz", []turn{
			{say: "新农合的能参加吗", wants: []string{"2013年5月"}, not: []string{question(slotInsured), question(slotKind)}},
		}},
		{"a general question about someone else gets its answer, no quiz", []turn{
			{say: "单位没工会怎么办", wants: []string{"缴费参保"}, not: []string{"您在北京参加了"}},
			{say: "我爸退休了能不能参加", wants: []string{"退休"}, not: []string{"您在北京参加了", "根据您说的情况"}},
		}},
		{"what the question says is not asked again: retired", []turn{
			{say: "我退休了，我还能参加吗", wants: []string{"退休人员不在"}, not: []string{question(slotEmployment)}},
			{say: "我能参加吗？我已经退休了", wants: []string{"退休人员不在"}, not: []string{question(slotEmployment), question(slotInsured)}},
		}},
		{"what the question says is not asked again: 新农合 at home", []turn{
			{say: "我在老家交的新农合，我能参加吗", wants: []string{question(slotEmployment)}, not: []string{question(slotInsured), question(slotKind)}},
		}},
		{"what the question says is not asked again: not a member", []turn{
			{say: "我没入工会能参加么", wants: []string{"暂时不能免费参加", "申请入会"}, not: []string{question(slotUnion)}},
		}},
		{"eligible", []turn{
			{say: "我能参加吗", wants: []string{question(slotInsured)}},
			{say: "北京医保，在职，是工会会员，单位交会费，有京卡", wants: []string{"您可以享受", "免费享受"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newTestBot(t)
			ctx := context.Background()
			for i, tr := range tc.turns {
				got, err := b.Chat(ctx, "s1", 0, tr.say)
				if err != nil {
					t.Fatalf("turn %d Chat(%q): %v", i+1, tr.say, err)
				}
				for _, w := range tr.wants {
					if !strings.Contains(got, w) {
						t.Fatalf("turn %d Chat(%q) = %q, want it to contain %q", i+1, tr.say, got, w)
					}
				}
				for _, n := range tr.not {
					if strings.Contains(got, n) {
						t.Fatalf("turn %d Chat(%q) = %q, want no %q", i+1, tr.say, got, n)
					}
				}
			}
		})
	}
}

func TestDialogueExpires(t *testing.T) {
	db := storetest.NewDB(t)
	clock := testNow
	state := kvtest.New(t)
	b := New(shippedKB(t), calendar.New(model.Shanghai), db, testFigures(t, db, nil), state, Options{DialogueTTL: time.Second},
		func() time.Time { return clock }, nil)
	ctx := context.Background()
	if got, _ := b.Chat(ctx, "s", 0, "我能参加吗"); !strings.Contains(got, question(slotInsured)) {
		t.Fatalf("start = %q", got)
	}
	time.Sleep(1100 * time.Millisecond)
	got, _ := b.Chat(ctx, "s", 0, "1")
	if strings.Contains(got, question(slotEmployment)) {
		t.Errorf("after the TTL, \"1\" continued the dialogue: %q", got)
	}
}

func TestSuggestAndDecline(t *testing.T) {
	b, _ := newTestBot(t)
	ctx := context.Background()
	got, _ := b.Chat(ctx, "s", 0, "今天天气怎么样")
	for _, w := range []string{"不太确定", "12351", "1 "} {
		if !strings.Contains(got, w) {
			t.Fatalf("decline = %q, want %q", got, w)
		}
	}
	first := strings.SplitN(strings.SplitN(got, "\n1 ", 2)[1], "\n", 2)[0]
	e := entryByQuestion(t, b.kb, first)
	want, _ := b.kb.Render(e.ID, model.DateOf(testNow))
	if e.Action == "" && e.Dialogue == "" {
		if got, _ := b.Chat(ctx, "s", 0, "1"); got != want {
			t.Errorf("choice 1 = %q, want the answer of %s", got, e.ID)
		}
	}
}

func entryByQuestion(t *testing.T, kb *KB, q string) Entry {
	t.Helper()
	for _, e := range kb.Entries() {
		if e.Question == q {
			return e
		}
	}
	t.Fatalf("no entry with question %q", q)
	return Entry{}
}

// seedPaid writes a member's approved and paid lines: a paid outpatient quarter, an inpatient
// month in transfer, and an approved month waiting for its transfer file.
func seedPaid(t *testing.T, db *gorm.DB, memberID uint64) {
	t.Helper()
	at := testNow.Add(-10 * 24 * time.Hour)
	runs := []model.SettlementRun{
		{Period: "2025-Q1", Class: model.ClassOutpatient, Status: model.RunExported, CreatedBy: "t"},
		{Period: "2025-03", Class: model.ClassInpatient, Status: model.RunExported, CreatedBy: "t"},
		{Period: "2025-04", Class: model.ClassInpatient, Status: model.RunApproved, CreatedBy: "t"},
	}
	must(t, db.Create(&runs).Error)
	ts := []model.Transfer{
		{Ref: "T1", BatchID: 1, RunID: runs[0].ID, MemberID: memberID, Bank: model.BankBOB, AccountKind: "jingka", AccountLast4: "1234",
			AmountFen: 52340, Status: model.LineArrived, ArrivedAt: &at},
		{Ref: "T2", BatchID: 2, RunID: runs[1].ID, MemberID: memberID, Bank: model.BankBOB, AccountKind: "jingka", AccountLast4: "1234",
			AmountFen: 120000, Status: model.LineTransfering},
	}
	must(t, db.Create(&ts).Error)
	lines := []model.PayoutLine{
		{RunID: runs[0].ID, MemberID: memberID, RecordID: 1, Year: 2025, ClaimType: model.ClaimOutpatient, BillDate: "2025-02-03",
			PolicyCode: "2021", AmountFen: 52340, Eligible: true, Status: model.LineArrived, TransferID: ts[0].ID, ArrivedAt: &at},
		{RunID: runs[1].ID, MemberID: memberID, RecordID: 2, Year: 2025, ClaimType: model.ClaimInpatient, BillDate: "2025-03-03",
			PolicyCode: "2021", AmountFen: 120000, Eligible: true, Status: model.LineTransfering, TransferID: ts[1].ID},
		{RunID: runs[2].ID, MemberID: memberID, RecordID: 3, Year: 2025, ClaimType: model.ClaimInpatient, BillDate: "2025-04-03",
			PolicyCode: "2021", AmountFen: 30000, Eligible: true, Status: model.LineApproved},
		{RunID: runs[2].ID, MemberID: memberID + 1, RecordID: 4, Year: 2025, ClaimType: model.ClaimInpatient, BillDate: "2025-04-03",
			PolicyCode: "2021", AmountFen: 99900, Eligible: true, Status: model.LineApproved}, // someone else's
	}
	must(t, db.Create(&lines).Error)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPersonalAnswers(t *testing.T) {
	b, db := newTestBot(t)
	seedPaid(t, db, 7)
	tests := []struct {
		say   string
		wants []string
		not   []string
	}{
		// 5月10日: March's money was promised by 5月6日, April's by 6月4日.
		{"我的钱到了吗", []string{"2025年第1季度门诊 523.40元：已到账（4月30日，已打入京卡尾号1234）",
			"2025年3月住院 1,200.00元：转账中（京卡尾号1234），原定5月6日前到账，现在已经晚了，请联系所在单位工会或拨打12351",
			"2025年4月住院 300.00元：已审核，等待转账，预计6月4日前到账"}, []string{"999.00", "预计5月6日"}},
		{"今年报了多少", []string{"2025年", "3笔", "2,023.40元", "已到账523.40元", "正在发放1,500.00元"}, nil},
		{"还能报多少", []string{"最多200,653.00元", "已审核2,023.40元", "还可以报198,629.60元"}, nil},
		{"下次什么时候到账", []string{"正在发放", "2025年3月住院 1,200.00元：正在转账，原定5月6日前到账，现在已经晚了，请联系所在单位工会或拨打12351",
			"2025年4月住院 300.00元：已审核，预计6月4日前到账", "下一次结算", "住院（2025年4月）5月21日开始核算"}, []string{"预计5月6日"}},
	}
	for _, tc := range tests {
		t.Run(tc.say, func(t *testing.T) {
			got, err := b.Chat(context.Background(), "p", 7, tc.say)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(got, w) {
					t.Errorf("Chat(%q) = %q, want %q", tc.say, got, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("Chat(%q) = %q, shows another member's %q", tc.say, got, n)
				}
			}
		})
	}
	t.Run("unbound gets the bind link", func(t *testing.T) {
		got, _ := b.Chat(context.Background(), "u", 0, "我的钱到了吗")
		if !strings.Contains(got, "绑定") || strings.Contains(got, "523.40") {
			t.Errorf("unbound Chat = %q, want the bind link and no amounts", got)
		}
	})
	t.Run("bound member without payouts", func(t *testing.T) {
		got, _ := b.Chat(context.Background(), "n", 99, "我的钱到了吗")
		if !strings.Contains(got, "还没有查到") || !strings.Contains(got, "下一次结算") {
			t.Errorf("Chat = %q", got)
		}
	})
}

func TestHandleEventsAndDedupe(t *testing.T) {
	b, db := newTestBot(t)
	ctx := context.Background()
	sub := Message{OpenID: "o-new", UnionID: "u-1", CreateTime: 1714000000, Type: "event", Event: "subscribe"}
	r, err := b.Handle(ctx, sub)
	if err != nil || !strings.Contains(r.Text, "感谢关注") || !strings.Contains(r.Text, "绑定") {
		t.Fatalf("subscribe = %q, %v", r.Text, err)
	}
	var a model.WeChatAccount
	must(t, db.Where("oa_open_id = ?", "o-new").Take(&a).Error)
	if !a.Following || a.FollowedAt == nil || a.UnionID == nil || *a.UnionID != "u-1" {
		t.Fatalf("after subscribe: %+v", a)
	}
	unsub := Message{OpenID: "o-new", CreateTime: 1714000100, Type: "event", Event: "unsubscribe"}
	if r, err := b.Handle(ctx, unsub); err != nil || r.Text != "" {
		t.Fatalf("unsubscribe = %q, %v; want no reply", r.Text, err)
	}
	must(t, db.Where("oa_open_id = ?", "o-new").Take(&a).Error)
	if a.Following || a.UnfollowedAt == nil {
		t.Fatalf("after unsubscribe: %+v", a)
	}
	// A mini-program account of the same person (same unionid) gets the openid on follow.
	mp, uid := "mp-2", "u-2"
	must(t, db.Create(&model.WeChatAccount{MPOpenID: &mp, UnionID: &uid}).Error)
	if _, err := b.Handle(ctx, Message{OpenID: "o-2", UnionID: "u-2", CreateTime: 1714000200, Type: "event", Event: "subscribe"}); err != nil {
		t.Fatal(err)
	}
	var n int64
	db.Model(&model.WeChatAccount{}).Where("union_id = ? AND oa_open_id = ? AND following = ?", "u-2", "o-2", true).Count(&n)
	if n != 1 {
		t.Errorf("the unionid's row was not linked to the openid (rows: %d)", n)
	}

	// The same MsgId twice: the dialogue advances once and both get the same reply.
	start := Message{OpenID: "o-3", MsgID: 1001, CreateTime: 1714000300, Type: "text", Text: "我能参加吗"}
	if _, err := b.Handle(ctx, start); err != nil {
		t.Fatal(err)
	}
	yes := Message{OpenID: "o-3", MsgID: 1002, CreateTime: 1714000301, Type: "text", Text: "1"}
	r1, _ := b.Handle(ctx, yes)
	r2, _ := b.Handle(ctx, yes)
	if r1.Text != r2.Text || !strings.Contains(r1.Text, question(slotEmployment)) {
		t.Fatalf("retry replies %q and %q, want the same employment question", r1.Text, r2.Text)
	}
	next, _ := b.Handle(ctx, Message{OpenID: "o-3", MsgID: 1003, CreateTime: 1714000302, Type: "text", Text: "1"})
	if !strings.Contains(next.Text, question(slotUnion)) {
		t.Fatalf("after the retry the dialogue skipped a step: %q", next.Text)
	}
	// Menu clicks.
	for key, want := range map[string]string{MenuKeyArrival: "绑定", MenuKeyHuman: "12351", MenuKeyFAQ: "常见问题", MenuKeyEstimate: "估"} {
		r, err := b.Handle(ctx, Message{OpenID: "o-4", CreateTime: 1714000400, Type: "event", Event: "CLICK", EventKey: key})
		if err != nil || !strings.Contains(r.Text, want) {
			t.Errorf("click %s = %q, %v; want %q", key, r.Text, err, want)
		}
	}
	if r, _ := b.Handle(ctx, Message{OpenID: "o-4", MsgID: 2001, Type: "image"}); !strings.Contains(r.Text, "文字") {
		t.Errorf("image = %q", r.Text)
	}
}

func TestConcurrentRetryGetsFirstReply(t *testing.T) {
	b, _ := newTestBot(t)
	ctx := context.Background()
	m := Message{OpenID: "o-c", MsgID: 3001, Type: "text", Text: "最多能报多少"}
	out := make(chan string, 4)
	for range 4 {
		go func() {
			r, _ := b.Handle(ctx, m)
			out <- r.Text
		}()
	}
	first := <-out
	for range 3 {
		if got := <-out; got != first {
			t.Fatalf("concurrent retries got %q and %q", first, got)
		}
	}
	if !strings.Contains(first, "200653元") {
		t.Fatalf("reply = %q", first)
	}
}
