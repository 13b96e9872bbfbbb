package calendar

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"huzhu/model"
)

// Settlement timing (see doc.go).
const (
	// SettlementDay is the day of the month after a period on which its settlement starts.
	SettlementDay = 21
	// TransferWorkdays is how many working days the transfer may take, counted from SettlementDay.
	TransferWorkdays = 10
)

// Period is one settlement period: a calendar quarter for outpatient bills, a calendar month for
// inpatient bills. Start is midnight of its first day and End midnight of the first day after it,
// both in the calendar's location, so the period is [Start, End).
type Period struct {
	Class model.SettlementClass
	Start time.Time
	End   time.Time
}

// IsZero reports whether p is the zero Period.
func (p Period) IsZero() bool { return p.Start.IsZero() }

// String returns the period's key: "2025-Q1" for a quarter, "2025-03" for a month.
func (p Period) String() string {
	if p.IsZero() {
		return ""
	}
	if p.Class == model.ClassOutpatient {
		return fmt.Sprintf("%d-Q%d", p.Start.Year(), (int(p.Start.Month())+2)/3)
	}
	return p.Start.Format("2006-01")
}

// Label returns the period in Chinese for people: "2025年第1季度" or "2025年3月".
func (p Period) Label() string {
	if p.Class == model.ClassOutpatient {
		return fmt.Sprintf("%d年第%d季度", p.Start.Year(), (int(p.Start.Month())+2)/3)
	}
	return fmt.Sprintf("%d年%d月", p.Start.Year(), int(p.Start.Month()))
}

// First returns the period's first date.
func (p Period) First() model.Date { return model.Date(p.Start.Format(dayLayout)) }

// Last returns the period's last date (inclusive), for BETWEEN queries on model.Date columns.
func (p Period) Last() model.Date { return model.Date(p.End.AddDate(0, 0, -1).Format(dayLayout)) }

// Contains reports whether t falls in the period.
func (p Period) Contains(t time.Time) bool {
	return !t.Before(p.Start) && t.Before(p.End)
}

// ContainsDate reports whether the civil date d falls in the period.
func (p Period) ContainsDate(d model.Date) bool { return d >= p.First() && d <= p.Last() }

// Next returns the period after p.
func (p Period) Next() Period { return periodAt(p.Class, p.End) }

// Prev returns the period before p.
func (p Period) Prev() Period { return periodAt(p.Class, p.Start.AddDate(0, 0, -1)) }

// SettlementStart returns the day p's settlement starts: the 21st of the month after p.
func (p Period) SettlementStart() time.Time {
	return time.Date(p.End.Year(), p.End.Month(), SettlementDay, 0, 0, 0, 0, p.End.Location())
}

// periodAt returns the period of class containing t's date in t's location.
func periodAt(class model.SettlementClass, t time.Time) Period {
	y, m, _ := t.Date()
	loc := t.Location()
	if class == model.ClassOutpatient {
		q := (int(m) - 1) / 3
		start := time.Date(y, time.Month(q*3+1), 1, 0, 0, 0, 0, loc)
		return Period{Class: class, Start: start, End: start.AddDate(0, 3, 0)}
	}
	start := time.Date(y, m, 1, 0, 0, 0, 0, loc)
	return Period{Class: model.ClassInpatient, Start: start, End: start.AddDate(0, 1, 0)}
}

// PeriodOf returns the settlement period of class that contains t's date. Any class other than
// outpatient is monthly.
func (c *Calendar) PeriodOf(class model.SettlementClass, t time.Time) Period {
	return periodAt(class, t.In(c.loc))
}

// PeriodOfDate is PeriodOf for a civil date; the zero Period for an empty or bad date.
func (c *Calendar) PeriodOfDate(class model.SettlementClass, d model.Date) Period {
	t, err := time.ParseInLocation(dayLayout, string(d), c.loc)
	if err != nil {
		return Period{}
	}
	return periodAt(class, t)
}

// Plausible years for a period: the plan started long after 2000.
const (
	minYear = 2000
	maxYear = 2100
)

var (
	reQuarter   = regexp.MustCompile(`^(\d{4})\s*-?\s*[Qq]\s*(\d{1,2})$`)
	reMonth     = regexp.MustCompile(`^(\d{4})(?:\s*[-/.]\s*(\d{1,2})|(\d{2}))$`)
	reQuarterZh = regexp.MustCompile(`^(\d{4})\s*年\s*第?\s*([1-4一二三四])\s*季度?$`)
	reMonthZh   = regexp.MustCompile(`^(\d{4})\s*年\s*(\d{1,2})\s*月(?:份)?$`)
)

const periodExample = "want 2025-Q1 (outpatient, a quarter) or 2025-03 (inpatient, a month)"

// ParsePeriod reads a period key. "2025-Q1", "2025Q1", "2025年第1季度" and "2025年第一季度" are
// outpatient quarters; "2025-03", "2025-3", "202503" and "2025年3月" inpatient months. The
// error says what is wrong and shows an example.
func (c *Calendar) ParsePeriod(s string) (Period, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return Period{}, fmt.Errorf("period is empty: %s", periodExample)
	}
	var (
		year, num int
		class     model.SettlementClass
	)
	switch m := matchAny(in); {
	case m.kind == 'q':
		class, year, num = model.ClassOutpatient, m.year, m.num
		if num < 1 || num > 4 {
			return Period{}, fmt.Errorf("period %q: quarter %d does not exist, want Q1 to Q4 (example: %d-Q1)", s, num, year)
		}
	case m.kind == 'm':
		class, year, num = model.ClassInpatient, m.year, m.num
		if num < 1 || num > 12 {
			return Period{}, fmt.Errorf("period %q: month %d does not exist, want 01 to 12 (example: %d-03)", s, num, year)
		}
	default:
		return Period{}, fmt.Errorf("period %q: %s", s, periodExample)
	}
	if year < minYear || year > maxYear {
		return Period{}, fmt.Errorf("period %q: year %d is outside %d–%d", s, year, minYear, maxYear)
	}
	month := num
	if class == model.ClassOutpatient {
		month = (num-1)*3 + 1
	}
	return periodAt(class, time.Date(year, time.Month(month), 1, 0, 0, 0, 0, c.loc)), nil
}

type periodMatch struct {
	kind      byte // 'q', 'm' or 0
	year, num int
}

func matchAny(s string) periodMatch {
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	if m := reQuarter.FindStringSubmatch(s); m != nil {
		return periodMatch{'q', atoi(m[1]), atoi(m[2])}
	}
	if m := reQuarterZh.FindStringSubmatch(s); m != nil {
		n := strings.Index("一二三四", m[2])
		if n >= 0 {
			return periodMatch{'q', atoi(m[1]), n/len("一") + 1}
		}
		return periodMatch{'q', atoi(m[1]), atoi(m[2])}
	}
	if m := reMonth.FindStringSubmatch(s); m != nil {
		return periodMatch{'m', atoi(m[1]), atoi(m[2] + m[3])}
	}
	if m := reMonthZh.FindStringSubmatch(s); m != nil {
		return periodMatch{'m', atoi(m[1]), atoi(m[2])}
	}
	return periodMatch{}
}

// Settlement is when one period is settled and paid.
type Settlement struct {
	Period Period
	// Start is the day the settlement starts (the 21st of the month after the period).
	Start time.Time
	// ArriveBy is the last day the money should arrive: the 10th working day counted from Start.
	ArriveBy time.Time
	// Estimated is true when ArriveBy falls in a year without official holiday data.
	Estimated bool
}

// Settlement returns the settlement dates of p.
func (c *Calendar) Settlement(p Period) Settlement {
	start := p.SettlementStart()
	by := c.AddWorkdays(start.AddDate(0, 0, -1), TransferWorkdays)
	return Settlement{Period: p, Start: start, ArriveBy: by, Estimated: !c.Covers(start) || !c.Covers(by)}
}

// ExpectedArrival returns the day by which the payout for a bill of class dated billDate should
// reach the worker's card, if the bill is settled in its own period.
func (c *Calendar) ExpectedArrival(class model.SettlementClass, billDate time.Time) time.Time {
	return c.Settlement(c.PeriodOf(class, billDate)).ArriveBy
}

// LateAdvice is what a worker is told to do once the promised day of their money has passed:
// whom to ask. Every channel that tells a promise (bot, mini-program timeline) says it, so that
// no one repeats a date that is no longer true.
const LateAdvice = "请联系所在单位工会或拨打12351查询"

// Promise is what may be said on a given day about when a period's money arrives: its
// expected day, and whether that day has passed.
type Promise struct {
	By        time.Time // the last day the money should arrive (Settlement.ArriveBy)
	Late      bool      // the day has passed: By must not be told as a promise any more
	Estimated bool      // By falls in a year without official holiday data
}

// Promise returns what may be said on now's day about the money of period p: By is the period's
// expected arrival (ExpectedArrival's rule) and Late is true from the day after it. It is the one
// place that decides between "预计…前到账" and "已超过预计到账日期".
func (c *Calendar) Promise(p Period, now time.Time) Promise {
	s := c.Settlement(p)
	return Promise{By: s.ArriveBy, Late: c.Day(now).After(c.Day(s.ArriveBy)), Estimated: s.Estimated}
}

// NextSettlement returns the first settlement of class starting on or after now's date: on the
// 21st itself it is the one starting that day.
func (c *Calendar) NextSettlement(class model.SettlementClass, now time.Time) Settlement {
	today := c.Day(now)
	prev := c.PeriodOf(class, today).Prev()
	if !prev.SettlementStart().Before(today) {
		return c.Settlement(prev)
	}
	return c.Settlement(prev.Next())
}
