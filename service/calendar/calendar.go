package calendar

import (
	"fmt"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"

	"huzhu/model"
)

const dayLayout = "2006-01-02"

// Day is one exception to the Monday–Friday rule: a public holiday (Work false) or a make-up
// working day on a weekend (Work true). Date is "2006-01-02"; Name is the holiday's Chinese name.
type Day struct {
	Date string
	Work bool
	Name string
}

// Calendar answers working-day and settlement-date questions. It is immutable after New and safe
// for concurrent use.
type Calendar struct {
	loc   *time.Location
	days  map[string]Day
	years map[int]bool // years with official data
	first int
	last  int
}

// New builds a calendar in loc (nil: Asia/Shanghai) from lunar-go's holiday data.
func New(loc *time.Location) *Calendar {
	c, _ := NewWithDays(loc, nil) // no extra days: nothing can fail
	return c
}

// NewWithDays is New plus extra days, which add to or override lunar-go's (years it does not
// have yet, or corrections); the year of each extra day then counts as covered. A Day whose Date
// is not "2006-01-02" is an error.
func NewWithDays(loc *time.Location, extra []Day) (*Calendar, error) {
	if loc == nil {
		loc = model.Shanghai
	}
	c := &Calendar{loc: loc, days: map[string]Day{}, years: map[int]bool{}}
	// lunar-go's data start at 2001-12-29; scan generously past its last year.
	for y := 2001; y <= 2200; y++ {
		l := HolidayUtil.GetHolidaysByYear(y)
		for e := l.Front(); e != nil; e = e.Next() {
			h := e.Value.(*HolidayUtil.Holiday)
			c.days[h.GetDay()] = Day{Date: h.GetDay(), Work: h.IsWork(), Name: h.GetName()}
		}
		if l.Len() > 0 && y > 2001 { // 2001 holds only the make-up days of New Year 2002
			c.years[y] = true
		}
	}
	for _, d := range extra {
		t, err := time.ParseInLocation(dayLayout, d.Date, loc)
		if err != nil {
			return nil, fmt.Errorf("calendar day %q: want a date like 2027-10-01", d.Date)
		}
		c.days[t.Format(dayLayout)] = d
		c.years[t.Year()] = true
	}
	for y := range c.years {
		if c.first == 0 || y < c.first {
			c.first = y
		}
		if y > c.last {
			c.last = y
		}
	}
	return c, nil
}

// Location returns the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Coverage returns the first and last years with official holiday data (2002 and 2027 with
// lunar-go v1.4.7 and no extra days).
func (c *Calendar) Coverage() (first, last int) { return c.first, c.last }

// Covers reports whether the year of t's date has official holiday data. Outside it, IsWorkday
// knows only weekends, so dates computed from it are estimates.
func (c *Calendar) Covers(t time.Time) bool { return c.years[t.In(c.loc).Year()] }

// Gaps returns which of now's year and the next have no official holiday data, oldest first.
// Arrival dates promised for those years skip weekends only, so staff should add the State
// Council's days (calendar.extra_days) or upgrade before the year turns.
func (c *Calendar) Gaps(now time.Time) []int {
	var gaps []int
	y := now.In(c.loc).Year()
	for _, year := range []int{y, y + 1} {
		if !c.years[year] {
			gaps = append(gaps, year)
		}
	}
	return gaps
}

// Day returns midnight of t's date in the calendar's location.
func (c *Calendar) Day(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, c.loc)
}

// IsWorkday reports whether t's date is a working day: Monday to Friday unless it is a public
// holiday, or a weekend day that is a make-up working day.
func (c *Calendar) IsWorkday(t time.Time) bool {
	t = t.In(c.loc)
	if d, ok := c.days[t.Format(dayLayout)]; ok {
		return d.Work
	}
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// Holiday returns the name of the public holiday on t's date ("国庆节", "春节"…) and true, or
// "" and false when the date is not a holiday day off (weekends are not holidays).
func (c *Calendar) Holiday(t time.Time) (string, bool) {
	d, ok := c.days[t.In(c.loc).Format(dayLayout)]
	if !ok || d.Work {
		return "", false
	}
	return d.Name, true
}

// AddWorkdays returns the date n working days after t's date, t's date itself not counted:
// AddWorkdays(a Friday, 1) is the next Monday (when it is a working day). A negative n counts
// back; n == 0 returns t's date even when it is not a working day.
func (c *Calendar) AddWorkdays(t time.Time, n int) time.Time {
	d := c.Day(t)
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		d = d.AddDate(0, 0, step)
		if c.IsWorkday(d) {
			n--
		}
	}
	return d
}

// NextWorkday returns t's date when it is a working day, otherwise the first working day after.
func (c *Calendar) NextWorkday(t time.Time) time.Time {
	d := c.Day(t)
	for !c.IsWorkday(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// WorkdaysBetween counts the working days in [from, to) by date; 0 when to is not after from.
func (c *Calendar) WorkdaysBetween(from, to time.Time) int {
	n := 0
	end := c.Day(to)
	for d := c.Day(from); d.Before(end); d = d.AddDate(0, 0, 1) {
		if c.IsWorkday(d) {
			n++
		}
	}
	return n
}
