package admin

import (
	"testing"

	"huzhu/service/stats"
)

func TestShortFigures(t *testing.T) {
	tests := []struct {
		fen  int64
		want string
	}{
		{0, "0"},
		{49, "0"},
		{50, "1"},
		{852_049, "8,520"},
		{1_000_000, "1万"},
		{1_234_567, "1.2万"},
		{20_065_300, "20.1万"},
		{999_949_999, "999.9万"},
		{254_300_000_000, "25.4亿"},
		{10_000_000_000, "1亿"},
	}
	for _, tc := range tests {
		if got := shortYuan(tc.fen); got != tc.want {
			t.Errorf("shortYuan(%d) = %q, want %q", tc.fen, got, tc.want)
		}
	}
	for n, want := range map[int64]string{9_999: "9,999", 10_000: "1万", 20_550_000: "2,055万", 12_345: "1.2万"} {
		if got := shortCount(n); got != want {
			t.Errorf("shortCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestColumnsScaleToTheLargest(t *testing.T) {
	c := columns("c", "t", []string{"a", "b", "c"}, []int64{0, 1, 1_000_000}, []string{"", "", ""}, shortCount)
	plot := columnHeight - columnTop - columnBottom
	if len(c.Bars) != 3 || c.Bars[0].H != 0 || c.Bars[1].H != 1 || c.Bars[2].H != plot || c.Bars[0].Value != "" {
		t.Fatalf("bars = %+v, want heights 0, 1 (the least visible), %d", c.Bars, plot)
	}
	for _, b := range c.Bars {
		if b.Y+b.H != columnTop+plot || b.X < 0 || b.X+b.W > columnWidth {
			t.Errorf("bar %+v leaves the plot", b)
		}
	}
	g := groupChart("g", "t", []stats.Group{{Label: "一个名字非常非常长的基层工会委员会", PaidFen: 5}, {Label: "乙", PaidFen: 10}}, 1)
	if len(g.Bars) != 1 || g.Bars[0].Label != "一个名字非常非常长的基…" || g.Bars[0].Tip[:len("一个名字非常非常长的基层工会委员会")] != "一个名字非常非常长的基层工会委员会" {
		t.Errorf("group chart = %+v, want the first group alone, its label clipped and its tip in full", g.Bars)
	}
}
