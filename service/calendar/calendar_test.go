package calendar

import (
	"strings"
	"testing"
	"time"

	"huzhu/model"
)

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.ParseInLocation(dayLayout, s, model.Shanghai)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestIsWorkday(t *testing.T) {
	c := New(nil)
	tests := []struct {
		date string
		want bool
		why  string
	}{
		{"2025-01-01", false, "元旦"},
		{"2025-01-26", true, "Sunday made a working day for 春节"},
		{"2025-01-27", true, "Monday before 春节"},
		{"2025-01-28", false, "春节 eve, holiday"},
		{"2025-02-04", false, "last day of 春节"},
		{"2025-02-05", true, "back to work"},
		{"2025-02-08", true, "Saturday made a working day for 春节"},
		{"2025-02-09", false, "ordinary Sunday"},
		{"2025-03-15", false, "ordinary Saturday"},
		{"2025-03-17", true, "ordinary Monday"},
		{"2025-04-27", true, "Sunday made a working day for 劳动节"},
		{"2025-05-05", false, "劳动节"},
		{"2025-09-28", true, "Sunday made a working day for 国庆"},
		{"2025-10-01", false, "国庆节"},
		{"2025-10-06", false, "中秋 inside 国庆"},
		{"2025-10-08", false, "Wednesday, last day of 国庆"},
		{"2025-10-09", true, "back to work"},
		{"2025-10-11", true, "Saturday made a working day for 国庆"},
		{"2025-10-12", false, "ordinary Sunday"},
		{"2026-02-14", true, "Saturday made a working day for 春节 2026"},
		{"2026-02-17", false, "春节 2026"},
		{"2026-10-01", false, "国庆 2026"},
		{"2008-08-08", true, "an ordinary Friday in a covered year"},
	}
	for _, tc := range tests {
		t.Run(tc.date, func(t *testing.T) {
			if got := c.IsWorkday(day(t, tc.date)); got != tc.want {
				t.Errorf("IsWorkday(%s) = %v, want %v (%s)", tc.date, got, tc.want, tc.why)
			}
		})
	}
	// The date is taken in the calendar's zone: 17:00 UTC on 30 September is 1 October in Beijing.
	if c.IsWorkday(time.Date(2025, 9, 30, 17, 0, 0, 0, time.UTC)) {
		t.Error("IsWorkday(2025-09-30T17:00Z) = true, want false (it is 2025-10-01 in Beijing)")
	}
}

func TestHoliday(t *testing.T) {
	c := New(nil)
	if name, ok := c.Holiday(day(t, "2025-10-01")); !ok || !strings.Contains(name, "国庆") {
		t.Errorf("Holiday(2025-10-01) = %q, %v, want 国庆…", name, ok)
	}
	if name, ok := c.Holiday(day(t, "2025-09-28")); ok {
		t.Errorf("Holiday(make-up day) = %q, true, want false", name)
	}
	if _, ok := c.Holiday(day(t, "2025-03-15")); ok {
		t.Error("Holiday(ordinary Saturday) = true, want false")
	}
}

func TestAddWorkdays(t *testing.T) {
	c := New(nil)
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2025-03-14", 1, "2025-03-17"}, // Friday → Monday
		{"2025-03-14", 0, "2025-03-14"},
		{"2025-03-15", 0, "2025-03-15"}, // n=0 keeps a weekend date
		{"2025-09-26", 1, "2025-09-28"}, // Friday → the make-up Sunday
		{"2025-09-30", 1, "2025-10-09"}, // over 国庆
		{"2025-10-10", 1, "2025-10-11"}, // Friday → the make-up Saturday
		{"2025-01-27", 1, "2025-02-05"}, // over 春节
		{"2025-10-09", -1, "2025-09-30"},
		{"2025-02-05", -2, "2025-01-26"}, // back over 春节 to the make-up Sunday
		{"2025-04-20", 10, "2025-05-06"},
	}
	for _, tc := range tests {
		got := c.AddWorkdays(day(t, tc.from), tc.n).Format(dayLayout)
		if got != tc.want {
			t.Errorf("AddWorkdays(%s, %d) = %s, want %s", tc.from, tc.n, got, tc.want)
		}
	}
	// A time of day does not leak into the result.
	got := c.AddWorkdays(time.Date(2025, 3, 14, 23, 59, 0, 0, model.Shanghai), 1)
	if !got.Equal(day(t, "2025-03-17")) {
		t.Errorf("AddWorkdays(Friday 23:59, 1) = %v, want Monday midnight", got)
	}
	if n := c.WorkdaysBetween(day(t, "2025-09-29"), day(t, "2025-10-13")); n != 5 {
		t.Errorf("WorkdaysBetween(2025-09-29, 2025-10-13) = %d, want 5 (29, 30 Sep; 9, 10, 11 Oct)", n)
	}
	if got := c.NextWorkday(day(t, "2025-10-01")).Format(dayLayout); got != "2025-10-09" {
		t.Errorf("NextWorkday(2025-10-01) = %s, want 2025-10-09", got)
	}
}

func TestCoverage(t *testing.T) {
	c := New(nil)
	first, last := c.Coverage()
	if first != 2002 || last != 2027 {
		t.Errorf("Coverage() = %d, %d, want 2002, 2027 (lunar-go v1.4.7)", first, last)
	}
	if !c.Covers(day(t, "2027-12-31")) || c.Covers(day(t, "2028-01-01")) || c.Covers(day(t, "2001-06-01")) {
		t.Error("Covers: want 2027 covered, 2028 and 2001 not")
	}
	// 2027 is the State Council's plan of 2026-11: 元旦 1–3 January, 春节 5–13 February.
	if c.IsWorkday(day(t, "2027-01-01")) || !c.IsWorkday(day(t, "2027-01-31")) || c.IsWorkday(day(t, "2027-02-10")) {
		t.Error("2027: want 元旦 and 春节 off and Sunday 2027-01-31 a make-up working day")
	}
	if got := c.Gaps(day(t, "2026-12-07")); len(got) != 0 {
		t.Errorf("Gaps(2026-12-07) = %v, want none", got)
	}
	if got := c.Gaps(day(t, "2027-12-07")); len(got) != 1 || got[0] != 2028 {
		t.Errorf("Gaps(2027-12-07) = %v, want [2028]", got)
	}
	// Beyond the data only weekends are known: Monday 2028-10-02 reads as a working day.
	if !c.IsWorkday(day(t, "2028-10-02")) || c.IsWorkday(day(t, "2028-10-01")) {
		t.Error("2028: want weekdays working and weekends off (no holiday data)")
	}

	// Extra days fill the gap once the State Council publishes them.
	withDays, err := NewWithDays(nil, []Day{{Date: "2028-10-02", Name: "国庆节"}, {Date: "2028-09-24", Work: true, Name: "国庆节"}})
	if err != nil {
		t.Fatal(err)
	}
	if withDays.IsWorkday(day(t, "2028-10-02")) || !withDays.IsWorkday(day(t, "2028-09-24")) {
		t.Error("extra days: want 2028-10-02 off and Sunday 2028-09-24 a working day")
	}
	if _, last := withDays.Coverage(); last != 2028 || !withDays.Covers(day(t, "2028-03-01")) {
		t.Errorf("extra days: Coverage last = %d, want 2028 covered", last)
	}
	if got := withDays.Gaps(day(t, "2027-12-07")); len(got) != 0 {
		t.Errorf("extra days: Gaps(2027-12-07) = %v, want none", got)
	}
	if _, err := NewWithDays(nil, []Day{{Date: "2027/10/01"}}); err == nil || !strings.Contains(err.Error(), "2027/10/01") {
		t.Errorf("NewWithDays(bad date) = %v, want an error naming it", err)
	}
}

func TestSettlement(t *testing.T) {
	c := New(nil)
	tests := []struct {
		name      string
		class     model.SettlementClass
		bill      string
		period    string
		start     string
		arriveBy  string
		estimated bool
	}{
		// 21–25 Apr (5), Sun 27 Apr make-up (6), 28–30 Apr (9), 1–5 May off, 6 May (10).
		{"outpatient Q1 over 劳动节", model.ClassOutpatient, "2025-02-14", "2025-Q1", "2025-04-21", "2025-05-06", false},
		// 21–24 Jan (4), Sun 26 Jan (5), 27 Jan (6), 28 Jan–4 Feb off, 5–7 Feb (9), Sat 8 Feb (10).
		{"outpatient Q4 over 春节", model.ClassOutpatient, "2024-11-30", "2024-Q4", "2025-01-21", "2025-02-08", false},
		// The 21st is a Sunday: 22–26 Sep (5), Sun 28 Sep (6), 29–30 Sep (8), 1–8 Oct off, 9–10 Oct (10).
		{"inpatient August over 国庆", model.ClassInpatient, "2025-08-31", "2025-08", "2025-09-21", "2025-10-10", false},
		{"inpatient September", model.ClassInpatient, "2025-09-01", "2025-09", "2025-10-21", "2025-11-03", false},
		// 21–22 Jan (2), 25–29 Jan (7), Sun 31 Jan make-up (8), 1–2 Feb (10); 春节 is 5–13 Feb.
		{"outpatient Q4 2026 paid in 2027", model.ClassOutpatient, "2026-12-01", "2026-Q4", "2027-01-21", "2027-02-02", false},
		// No official data for 2028 yet: weekends only, and the date is an estimate.
		{"outpatient Q4 2027 paid in 2028", model.ClassOutpatient, "2027-12-01", "2027-Q4", "2028-01-21", "2028-02-03", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bill := day(t, tc.bill)
			p := c.PeriodOf(tc.class, bill)
			s := c.Settlement(p)
			if p.String() != tc.period || s.Start.Format(dayLayout) != tc.start || s.ArriveBy.Format(dayLayout) != tc.arriveBy || s.Estimated != tc.estimated {
				t.Errorf("Settlement(%s of %s) = %s from %s by %s (estimated %v), want %s from %s by %s (%v)",
					tc.class, tc.bill, p, s.Start.Format(dayLayout), s.ArriveBy.Format(dayLayout), s.Estimated,
					tc.period, tc.start, tc.arriveBy, tc.estimated)
			}
			if got := c.ExpectedArrival(tc.class, bill).Format(dayLayout); got != tc.arriveBy {
				t.Errorf("ExpectedArrival(%s, %s) = %s, want %s", tc.class, tc.bill, got, tc.arriveBy)
			}
			if n := c.WorkdaysBetween(s.Start, s.ArriveBy.AddDate(0, 0, 1)); n != TransferWorkdays {
				t.Errorf("working days from %s to %s inclusive = %d, want %d", s.Start.Format(dayLayout), s.ArriveBy.Format(dayLayout), n, TransferWorkdays)
			}
			if !c.IsWorkday(s.ArriveBy) {
				t.Errorf("ArriveBy %s is not a working day", s.ArriveBy.Format(dayLayout))
			}
		})
	}
}

// TestPromise checks the one rule for telling an arrival date: a promise up to and including its
// day (Asia/Shanghai), late from the day after. Issue 16: "预计11月3日前到账" was said on 7 December.
func TestPromise(t *testing.T) {
	c := New(nil)
	sep, err := c.ParsePeriod("2025-09") // inpatient September: by 2025-11-03
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		now  time.Time
		late bool
	}{
		{time.Date(2025, 10, 21, 9, 0, 0, 0, model.Shanghai), false},
		{time.Date(2025, 11, 3, 23, 59, 0, 0, model.Shanghai), false},
		{time.Date(2025, 11, 3, 16, 30, 0, 0, time.UTC), true}, // 00:30 on 4 November in Beijing
		{time.Date(2025, 12, 7, 10, 0, 0, 0, model.Shanghai), true},
	}
	for _, tc := range tests {
		p := c.Promise(sep, tc.now)
		if p.By.Format(dayLayout) != "2025-11-03" || p.Late != tc.late {
			t.Errorf("Promise(2025-09, %s) = by %s late %v, want by 2025-11-03 late %v", tc.now, p.By.Format(dayLayout), p.Late, tc.late)
		}
	}
}

func TestNextSettlement(t *testing.T) {
	c := New(nil)
	tests := []struct {
		class  model.SettlementClass
		now    time.Time
		period string
		start  string
	}{
		{model.ClassInpatient, day(t, "2025-10-10"), "2025-09", "2025-10-21"},
		{model.ClassInpatient, day(t, "2025-10-21").Add(18 * time.Hour), "2025-09", "2025-10-21"}, // the 21st itself
		{model.ClassInpatient, day(t, "2025-10-22"), "2025-10", "2025-11-21"},
		{model.ClassInpatient, day(t, "2025-12-25"), "2025-12", "2026-01-21"},
		{model.ClassOutpatient, day(t, "2025-01-05"), "2024-Q4", "2025-01-21"},
		{model.ClassOutpatient, day(t, "2025-03-01"), "2025-Q1", "2025-04-21"},
		{model.ClassOutpatient, day(t, "2025-04-21"), "2025-Q1", "2025-04-21"},
		{model.ClassOutpatient, day(t, "2025-04-22"), "2025-Q2", "2025-07-21"},
		{model.ClassOutpatient, day(t, "2025-12-31"), "2025-Q4", "2026-01-21"},
		// 2025-10-20 16:30 UTC is 2025-10-21 00:30 in Beijing.
		{model.ClassInpatient, time.Date(2025, 10, 20, 16, 30, 0, 0, time.UTC), "2025-09", "2025-10-21"},
	}
	for _, tc := range tests {
		s := c.NextSettlement(tc.class, tc.now)
		if s.Period.String() != tc.period || s.Start.Format(dayLayout) != tc.start {
			t.Errorf("NextSettlement(%s, %v) = %s from %s, want %s from %s", tc.class, tc.now, s.Period, s.Start.Format(dayLayout), tc.period, tc.start)
		}
	}
}

func TestPeriodOf(t *testing.T) {
	c := New(nil)
	tests := []struct {
		class       model.SettlementClass
		at          time.Time
		key, label  string
		first, last model.Date
		next, prev  string
	}{
		{model.ClassOutpatient, day(t, "2025-02-14"), "2025-Q1", "2025年第1季度", "2025-01-01", "2025-03-31", "2025-Q2", "2024-Q4"},
		{model.ClassOutpatient, day(t, "2025-12-31"), "2025-Q4", "2025年第4季度", "2025-10-01", "2025-12-31", "2026-Q1", "2025-Q3"},
		{model.ClassInpatient, day(t, "2024-02-10"), "2024-02", "2024年2月", "2024-02-01", "2024-02-29", "2024-03", "2024-01"},
		{model.ClassInpatient, day(t, "2025-01-31"), "2025-01", "2025年1月", "2025-01-01", "2025-01-31", "2025-02", "2024-12"},
		// 2025-03-31 16:30 UTC is 1 April in Beijing.
		{model.ClassOutpatient, time.Date(2025, 3, 31, 16, 30, 0, 0, time.UTC), "2025-Q2", "2025年第2季度", "2025-04-01", "2025-06-30", "2025-Q3", "2025-Q1"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			p := c.PeriodOf(tc.class, tc.at)
			if p.String() != tc.key || p.Label() != tc.label || p.First() != tc.first || p.Last() != tc.last ||
				p.Next().String() != tc.next || p.Prev().String() != tc.prev {
				t.Errorf("PeriodOf(%s, %v) = %s %s [%s, %s] next %s prev %s, want %s %s [%s, %s] next %s prev %s",
					tc.class, tc.at, p, p.Label(), p.First(), p.Last(), p.Next(), p.Prev(),
					tc.key, tc.label, tc.first, tc.last, tc.next, tc.prev)
			}
			if !p.Contains(tc.at) || p.Contains(p.End) || !p.Contains(p.Start) {
				t.Errorf("%s.Contains: want [Start, End) to hold %v", p, tc.at)
			}
			if !p.ContainsDate(tc.first) || !p.ContainsDate(tc.last) || p.ContainsDate(p.Next().First()) {
				t.Errorf("%s.ContainsDate: want [%s, %s] only", p, tc.first, tc.last)
			}
			if got := c.PeriodOfDate(tc.class, model.DateOf(tc.at)); got.String() != tc.key {
				t.Errorf("PeriodOfDate = %s, want %s", got, tc.key)
			}
		})
	}
	if p := c.PeriodOfDate(model.ClassInpatient, "not a date"); !p.IsZero() || p.String() != "" {
		t.Errorf("PeriodOfDate(bad) = %v, want the zero Period", p)
	}
}

func TestParsePeriod(t *testing.T) {
	c := New(nil)
	tests := []struct {
		in      string
		want    string
		class   model.SettlementClass
		wantErr string
	}{
		{"2025-Q1", "2025-Q1", model.ClassOutpatient, ""},
		{"2025q4", "2025-Q4", model.ClassOutpatient, ""},
		{" 2025-Q2 ", "2025-Q2", model.ClassOutpatient, ""},
		{"2025年第1季度", "2025-Q1", model.ClassOutpatient, ""},
		{"2025年第三季度", "2025-Q3", model.ClassOutpatient, ""},
		{"2025-03", "2025-03", model.ClassInpatient, ""},
		{"2025-3", "2025-03", model.ClassInpatient, ""},
		{"202512", "2025-12", model.ClassInpatient, ""},
		{"2025/07", "2025-07", model.ClassInpatient, ""},
		{"2025年3月", "2025-03", model.ClassInpatient, ""},
		{"", "", "", "period is empty"},
		{"2025-Q5", "", "", "quarter 5 does not exist"},
		{"2025-Q0", "", "", "quarter 0 does not exist"},
		{"2025-13", "", "", "month 13 does not exist"},
		{"2025-00", "", "", "month 0 does not exist"},
		{"1999-01", "", "", "year 1999 is outside"},
		{"2025", "", "", "want 2025-Q1 (outpatient, a quarter) or 2025-03"},
		{"Q1-2025", "", "", "want 2025-Q1"},
		{"2025-03-01", "", "", "want 2025-Q1"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := c.ParsePeriod(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParsePeriod(%q) = %v, %v, want an error containing %q", tc.in, p, err, tc.wantErr)
				}
				return
			}
			if err != nil || p.String() != tc.want || p.Class != tc.class {
				t.Fatalf("ParsePeriod(%q) = %s (%s), %v, want %s (%s)", tc.in, p, p.Class, err, tc.want, tc.class)
			}
			if p.Start.Location() != model.Shanghai {
				t.Errorf("ParsePeriod(%q).Start in %v, want Asia/Shanghai", tc.in, p.Start.Location())
			}
		})
	}
}

func TestParsePeriodRoundTrip(t *testing.T) {
	c := New(nil)
	for _, class := range []model.SettlementClass{model.ClassOutpatient, model.ClassInpatient} {
		p := c.PeriodOf(class, day(t, "2002-01-01"))
		for range 12 * 30 {
			got, err := c.ParsePeriod(p.String())
			if err != nil || !got.Start.Equal(p.Start) || !got.End.Equal(p.End) || got.Class != p.Class {
				t.Fatalf("ParsePeriod(%s) = %+v, %v, want %+v", p, got, err, p)
			}
			if !p.Next().Start.Equal(p.End) {
				t.Fatalf("%s.Next() starts %v, want %v", p, p.Next().Start, p.End)
			}
			p = p.Next()
		}
	}
}

func BenchmarkExpectedArrival(b *testing.B) {
	c := New(nil)
	bill := time.Date(2025, 8, 31, 12, 0, 0, 0, model.Shanghai)
	for b.Loop() {
		c.ExpectedArrival(model.ClassInpatient, bill)
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		New(nil)
	}
}
