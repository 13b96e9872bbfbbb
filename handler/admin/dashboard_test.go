package admin_test

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"huzhu/handler/admin"
	"huzhu/model"
	"huzhu/service/calendar"
)

// arrivedLine adds an arrived payout line of member for amount, arrived at, in a run of its own
// period, paid by a transfer to the member's 京卡 ending 0001.
func (w *world) arrivedLine(member uint64, claim model.ClaimType, amount model.Fen, at time.Time) model.PayoutLine {
	w.t.Helper()
	var runs int64
	w.db.Model(&model.SettlementRun{}).Count(&runs)
	run := model.SettlementRun{Period: fmt.Sprintf("T%d", runs+1), Class: claim.Class(), Status: model.RunClosed, CreatedBy: "op1"}
	if err := w.db.Create(&run).Error; err != nil {
		w.t.Fatal(err)
	}
	tr := model.Transfer{Ref: fmt.Sprintf("R%d", run.ID), BatchID: 1, RunID: run.ID, MemberID: member, Bank: model.BankBOB, AccountKind: "jingka",
		AccountLast4: "0001", AmountFen: amount, Status: model.LineArrived, ArrivedAt: &at}
	if err := w.db.Create(&tr).Error; err != nil {
		w.t.Fatal(err)
	}
	var n int64
	w.db.Model(&model.PayoutLine{}).Count(&n)
	l := model.PayoutLine{RunID: run.ID, MemberID: member, RecordID: uint64(1000 + n), Year: at.Year(), ClaimType: claim, BillDate: model.DateOf(at.AddDate(0, -1, 0)),
		PolicyCode: "2021", AmountFen: amount, Eligible: true, Status: model.LineArrived, TransferID: tr.ID, ArrivedAt: &at}
	if err := w.db.Create(&l).Error; err != nil {
		w.t.Fatal(err)
	}
	return l
}

// svgChart is the part of a dashboard chart the tests read.
type svgChart struct {
	ID    string `xml:"id,attr"`
	Title string `xml:"title"`
	Bars  []struct {
		Title string   `xml:"title"`
		Rect  svgRect  `xml:"rect"`
		Texts []string `xml:"text"`
	} `xml:"g"`
}

type svgRect struct {
	Height int `xml:"height,attr"`
}

// chartIn parses the <svg> with id out of a page; ok is false when the page has none.
func chartIn(t *testing.T, body, id string) (svgChart, bool) {
	t.Helper()
	i := strings.Index(body, `<svg id="`+id+`"`)
	if i < 0 {
		return svgChart{}, false
	}
	j := strings.Index(body[i:], "</svg>")
	if j < 0 {
		t.Fatalf("chart %s is not closed", id)
	}
	var c svgChart
	if err := xml.Unmarshal([]byte(body[i:i+j+len("</svg>")]), &c); err != nil {
		t.Fatalf("chart %s is not well-formed SVG: %v\n%s", id, err, body[i:i+j])
	}
	return c, true
}

func TestDashboardCharts(t *testing.T) {
	w := newWorld(t)
	zhang, li := w.memberID("张一"), w.memberID("李二")
	w.arrivedLine(zhang, model.ClaimOutpatient, 123456, time.Date(2025, 3, 5, 10, 0, 0, 0, model.Shanghai))
	w.arrivedLine(zhang, model.ClaimInpatient, 100, time.Date(2025, 3, 31, 23, 59, 0, 0, model.Shanghai))
	w.arrivedLine(li, model.ClaimInpatient, 20065300, time.Date(2025, 6, 30, 16, 30, 0, 0, time.UTC)) // 1 July in Beijing
	w.arrivedLine(li, model.ClaimOutpatient, 999, time.Date(2024, 12, 20, 10, 0, 0, 0, model.Shanghai))

	t.Run("admin sees the plan by month", func(t *testing.T) {
		res, body := w.login("admin").get("/admin/?year=2025")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("dashboard = %d", res.StatusCode)
		}
		paid, ok := chartIn(t, body, "chart-month-paid")
		if !ok {
			t.Fatalf("no monthly paid chart: %s", body)
		}
		if len(paid.Bars) != 12 {
			t.Fatalf("paid chart has %d bars, want one per month", len(paid.Bars))
		}
		wantTips := map[int]string{
			1: "2025 年 1 月：到账 0.00 元，0 人次，受助 0 人",
			3: "2025 年 3 月：到账 1,235.56 元，2 人次，受助 1 人",
			7: "2025 年 7 月：到账 200,653.00 元，1 人次，受助 1 人",
		}
		for m, tip := range wantTips {
			if got := paid.Bars[m-1].Title; got != tip {
				t.Errorf("bar of month %d title = %q, want %q", m, got, tip)
			}
		}
		for i, b := range paid.Bars {
			if len(b.Texts) == 0 || b.Texts[0] != fmt.Sprintf("%d月", i+1) {
				t.Errorf("bar %d label = %v, want %d月", i, b.Texts, i+1)
			}
		}
		if h7, h3, h1 := paid.Bars[6].Rect.Height, paid.Bars[2].Rect.Height, paid.Bars[0].Rect.Height; h7 <= h3 || h3 < 1 || h1 != 0 {
			t.Errorf("bar heights Jul %d Mar %d Jan %d, want Jul > Mar > 0 = Jan", h7, h3, h1)
		}
		if v := paid.Bars[6].Texts; len(v) != 2 || v[1] != "20.1万" {
			t.Errorf("July's figure = %v, want 20.1万", v)
		}
		if !strings.Contains(paid.Title, "全市 2025 年") {
			t.Errorf("chart title = %q, want the whole plan's", paid.Title)
		}
		if c, ok := chartIn(t, body, "chart-month-payouts"); !ok || len(c.Bars) != 12 || c.Bars[2].Texts[1] != "2" {
			t.Errorf("payouts chart = %+v, want 12 bars, March 2", c)
		}
		if c, ok := chartIn(t, body, "chart-by-type"); !ok || len(c.Bars) != 3 {
			t.Errorf("claim-type chart = %+v, want 3 bars", c)
		}
		if c, ok := chartIn(t, body, "chart-by-union"); !ok || len(c.Bars) != 2 || !strings.HasPrefix(c.Bars[0].Title, "第二工会：到账 200,653.00 元") {
			t.Errorf("union chart = %+v, want 第二工会 first", c)
		}
		for _, s := range []string{`<td>3 月</td><td class="n">1</td><td class="n">2</td><td class="n">1,235.56</td>`, "全年到账 201,888.56 元"} {
			if !strings.Contains(body, s) {
				t.Errorf("dashboard lacks %q", s)
			}
		}
	})
	t.Run("admin picks one union", func(t *testing.T) {
		_, body := w.login("admin").get("/admin/?year=2025&union=U2")
		paid, _ := chartIn(t, body, "chart-month-paid")
		if len(paid.Bars) != 12 || !strings.Contains(paid.Title, "第二工会") || paid.Bars[2].Title != "2025 年 3 月：到账 0.00 元，0 人次，受助 0 人" {
			t.Errorf("U2's chart = %q, March %q; want 第二工会 with nothing in March", paid.Title, paid.Bars[2].Title)
		}
	})
	t.Run("a union sees its own figures whatever the URL says", func(t *testing.T) {
		u1 := w.login("u1")
		for _, path := range []string{"/admin/?year=2025", "/admin/?year=2025&union=U2", "/admin/?year=2025&union=" + url.QueryEscape("U1' OR 1=1 --")} {
			res, body := u1.get(path)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s = %d", path, res.StatusCode)
			}
			paid, _ := chartIn(t, body, "chart-month-paid")
			if len(paid.Bars) != 12 || !strings.Contains(paid.Title, "第一工会") || !strings.HasPrefix(paid.Bars[6].Title, "2025 年 7 月：到账 0.00 元") {
				t.Errorf("%s: chart %q, July %q; want 第一工会's, nothing in July", path, paid.Title, paid.Bars[6].Title)
			}
			if strings.Contains(body, "第二工会") || strings.Contains(body, "200,653") || strings.Contains(body, "by-type") || strings.Contains(body, "by-year") {
				t.Errorf("%s shows another union or plan-wide breakdowns", path)
			}
			if c, ok := chartIn(t, body, "chart-by-union"); !ok || len(c.Bars) != 1 || !strings.HasPrefix(c.Bars[0].Title, "第一工会") {
				t.Errorf("%s: union chart = %+v, want 第一工会 alone", path, c)
			}
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		adm := w.login("admin")
		if res, body := adm.get("/admin/?union=NOPE"); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "没有这个基层工会") {
			t.Errorf("unknown union = %d, want 404 saying so", res.StatusCode)
		}
		for _, path := range []string{"/admin/?year=abc", "/admin/?year=99999", "/admin/?year=-1"} {
			if res, body := adm.get(path); res.StatusCode != http.StatusOK || !strings.Contains(body, "2025 年按到账月份") {
				t.Errorf("%s = %d, want 200 with this year's figures", path, res.StatusCode)
			}
		}
	})
}

func TestMemberPage(t *testing.T) {
	w := newWorld(t)
	zhang, li := w.memberID("张一"), w.memberID("李二")
	w.db.Model(&model.Member{}).Where("id = ?", zhang).Updates(map[string]any{"hardship": true, "hardship_from": "2025-01-01", "hardship_until": "2025-03-31"})
	for i := range 23 {
		w.arrivedLine(zhang, model.ClaimOutpatient, model.Fen(1000+i), time.Date(2025, 1, 1+i, 10, 0, 0, 0, model.Shanghai))
	}
	w.arrivedLine(li, model.ClaimInpatient, 777777, time.Date(2025, 2, 1, 10, 0, 0, 0, model.Shanghai))
	n := model.Notification{DedupKey: "t:1", MemberID: zhang, Kind: model.NoticeArrived, Channel: model.ChannelSMS, Payload: "{}",
		Status: model.NoticeFailed, NextAttemptAt: w.now, Attempts: 3, LastError: "短信网关拒绝"}
	if err := w.db.Create(&n).Error; err != nil {
		t.Fatal(err)
	}
	u1, adm := w.login("u1"), w.login("admin")

	t.Run("own member with payouts, notices and statuses", func(t *testing.T) {
		res, body := u1.get(fmt.Sprintf("/admin/members/%d", zhang))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("member page = %d", res.StatusCode)
		}
		for _, s := range []string{"互助金（共 23 笔）", "京卡 尾号0001", "10.22", "第 1 / 2 页", "到账通知", "短信网关拒绝", "困难职工", "2025-03-31", "今天不在有效期内", "未绑定"} {
			if !strings.Contains(body, s) {
				t.Errorf("member page lacks %q", s)
			}
		}
		if strings.Contains(body, "7,777.77") || strings.Contains(body, "6217990000000001") || strings.Contains(body, "张一") {
			t.Errorf("member page shows another member's payout or a full number")
		}
		if got := strings.Count(body, "京卡 尾号0001"); got != 20 {
			t.Errorf("first page has %d payouts, want 20", got)
		}
	})
	t.Run("second page sorted by amount", func(t *testing.T) {
		_, body := u1.get(fmt.Sprintf("/admin/members/%d?sort=-amount&page=2", zhang))
		if got := strings.Count(body, "京卡 尾号0001"); got != 3 || !strings.Contains(body, "10.02") || strings.Contains(body, "10.22") {
			t.Errorf("page 2 by amount descending: %d rows, want the 3 smallest (10.00–10.02)", got)
		}
		if !strings.Contains(body, `href="/admin/members/`+fmt.Sprint(zhang)+`?sort=-amount" id="prev"`) {
			t.Errorf("page 2 has no link back to page 1 keeping the sort")
		}
	})
	tests := []struct {
		name, user, path string
		want             int
		contains         string
	}{
		{"union cannot open another union's member", "u1", fmt.Sprintf("/admin/members/%d", li), 404, "没有找到这位会员"},
		{"nor with paging and sort", "u1", fmt.Sprintf("/admin/members/%d?sort=-amount&page=1", li), 404, "没有找到这位会员"},
		{"nor with a bad sort", "u1", fmt.Sprintf("/admin/members/%d?sort=password", li), 404, ""},
		{"admin opens any member", "admin", fmt.Sprintf("/admin/members/%d", li), 200, "7,777.77"},
		{"sort outside the list", "u1", fmt.Sprintf("/admin/members/%d?sort=amount_fen", zhang), 400, "不能按“amount_fen”排序"},
		{"sort with SQL", "u1", fmt.Sprintf("/admin/members/%d?sort=%s", zhang, url.QueryEscape("l.id; DROP TABLE members")), 400, "不能按"},
		{"page that is not a number", "u1", fmt.Sprintf("/admin/members/%d?page=x", zhang), 200, "第 1 / 2 页"},
		{"page past the end", "u1", fmt.Sprintf("/admin/members/%d?page=99", zhang), 200, "还没有互助金记录"},
		{"id that is not a number", "u1", "/admin/members/abc", 404, ""},
		{"member list sort outside the list", "u1", "/admin/members?sort=id_number_hash", 400, "不能按"},
		{"audit sort outside the list", "aud", "/admin/audit?sort=detail", 400, "不能按"},
		{"audit sorted by actor", "aud", "/admin/audit?sort=actor", 200, "操作人▲"},
		{"union cannot read the audit log by sorting it", "u1", "/admin/audit?sort=actor", 403, ""},
	}
	clients := map[string]*client{"u1": u1, "admin": adm, "aud": w.login("aud")}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := clients[tc.user].get(tc.path)
			if res.StatusCode != tc.want || !strings.Contains(body, tc.contains) {
				t.Errorf("%s GET %s = %d (contains %q: %v), want %d", tc.user, tc.path, res.StatusCode, tc.contains, strings.Contains(body, tc.contains), tc.want)
			}
		})
	}
}

func TestMemberListPagesAndTails(t *testing.T) {
	w := newWorld(t)
	var u1 model.Union
	w.db.Where("code = ?", "U1").Take(&u1)
	for i := range 60 {
		m := model.Member{UnionID: u1.ID, Name: fmt.Sprintf("王%02d", i), IDNumberEnc: []byte{1}, IDNumberHash: fmt.Sprintf("bulk%d", i), IDLast4: fmt.Sprintf("%04d", 5000+i)}
		if err := w.db.Create(&m).Error; err != nil {
			t.Fatal(err)
		}
	}
	u1c := w.login("u1")
	rowRe := regexp.MustCompile(`<tr><td><a href="/admin/members/\d+">`)
	_, body := u1c.get("/admin/members")
	if got := len(rowRe.FindAllString(body, -1)); got != 50 || !strings.Contains(body, "共 61 人") || !strings.Contains(body, "第 1 / 2 页") {
		t.Errorf("first page: %d rows, want 50 of 61 on 2 pages", got)
	}
	_, body = u1c.get("/admin/members?page=2")
	if got := len(rowRe.FindAllString(body, -1)); got != 11 {
		t.Errorf("second page: %d rows, want 11", got)
	}
	_, body = u1c.get("/admin/members?sort=-name")
	if i, j := strings.Index(body, "尾号5059"), strings.Index(body, "尾号5058"); i < 0 || j < 0 || i > j {
		t.Errorf("sorted by name descending: 王59 at %d, 王58 at %d, want 王59 first", i, j)
	}
	if !strings.Contains(body, `href="/admin/members?sort=name">姓名▼`) {
		t.Errorf("the name header does not offer the ascending sort")
	}
	for _, q := range []string{"5042", "尾号5042"} {
		_, body = u1c.get("/admin/members?q=" + url.QueryEscape(q))
		if got := len(rowRe.FindAllString(body, -1)); got != 1 || !strings.Contains(body, "尾号5042") {
			t.Errorf("search %q: %d rows, want the member whose ID ends 5042", q, got)
		}
	}
	// 李二 of U2: the ID tail is theirs, but u1 does not see U2's members.
	if _, body = u1c.get("/admin/members?q=0029"); strings.Contains(body, "尾号0029") || !strings.Contains(body, "没有找到") {
		t.Errorf("u1 finds another union's member by tail")
	}
	if _, body = w.login("admin").get("/admin/members?q=0029"); !strings.Contains(body, "尾号0029") {
		t.Errorf("admin does not find 李二 by the tail of the ID")
	}
}

func TestFailedNoticesLinkTheMember(t *testing.T) {
	w := newWorld(t)
	zhang := w.memberID("张一")
	n := model.Notification{DedupKey: "t:1", MemberID: zhang, Kind: model.NoticeArrived, Channel: model.ChannelSMS, Payload: "{}",
		Status: model.NoticeFailed, NextAttemptAt: w.now, Attempts: 5, LastError: "短信网关拒绝"}
	if err := w.db.Create(&n).Error; err != nil {
		t.Fatal(err)
	}
	_, body := w.login("op1").get("/admin/notifications")
	want := fmt.Sprintf(`<a href="/admin/members/%d">张*</a>`, zhang)
	if !strings.Contains(body, want) {
		t.Errorf("failed notices lack %s", want)
	}
	if strings.Contains(body, fmt.Sprintf("<td>%d</td><td>%d</td>", n.ID, zhang)) || strings.Contains(body, "张一") {
		t.Errorf("failed notices show the raw member id or the full name")
	}
}

// TestDashboardCalendarGaps: staff are told on the dashboard when the holiday calendar lacks
// this year or next, and are not when extra days fill the gap.
func TestDashboardCalendarGaps(t *testing.T) {
	tests := []struct {
		name  string
		extra []calendar.Day
		want  string // "" = no warning
	}{
		{"library lacks 2028", nil, "缺少 2028 年"},
		{"extra days fill 2028", []calendar.Day{{Date: "2028-01-01", Name: "元旦"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cal, err := calendar.NewWithDays(model.Shanghai, tc.extra)
			if err != nil {
				t.Fatal(err)
			}
			late := time.Date(2027, 12, 7, 9, 0, 0, 0, model.Shanghai)
			w := newWorld(t, func(d *admin.Deps) { d.Calendar = cal; d.Now = func() time.Time { return late } })
			res, body := w.login("admin").get("/admin/")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("dashboard = %d", res.StatusCode)
			}
			got := strings.Contains(body, `id="calendar-gaps"`)
			if got != (tc.want != "") || (tc.want != "" && !strings.Contains(body, tc.want)) {
				t.Errorf("dashboard on 2027-12-07 shows calendar warning %v, want %q", got, tc.want)
			}
		})
	}
}
