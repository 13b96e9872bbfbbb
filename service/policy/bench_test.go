package policy_test

import (
	"testing"

	"huzhu/model"
	"huzhu/service/policy"
)

// BenchmarkCompute is one member's settlement: six bills of 2021, one of them a major disease
// crossing the whole ladder, for a hardship worker.
func BenchmarkCompute(b *testing.B) {
	e := shipped(b)
	in := policy.Input{
		Facts: policy.Facts{Bonuses: []policy.Bonus{{Kind: policy.BonusHardship, From: "2021-01-01"}}},
		Bills: []policy.Bill{
			{RecordID: 1, ClaimType: model.ClaimOutpatient, Date: "2021-02-03", SelfPay1Fen: 35_612},
			{RecordID: 2, ClaimType: model.ClaimOutpatient, Date: "2021-04-11", SelfPay1Fen: 12_345},
			{RecordID: 3, ClaimType: model.ClaimInpatient, Date: "2021-06-20", SelfPay1Fen: 1_534_567},
			{RecordID: 4, ClaimType: model.ClaimSpecialInpatient, Date: "2021-08-02", SelfPay1Fen: 2_345_678, AboveCapFen: 57_000_000, MajorDisease: true},
			{RecordID: 5, ClaimType: model.ClaimOutpatient, Date: "2021-09-15", SelfPay1Fen: 9_999},
			{RecordID: 6, ClaimType: model.ClaimOutpatient, Date: "2021-11-30", SelfPay1Fen: 48_001},
		},
		Prior: map[int]policy.YearToDate{2021: {PaidFen: 12_000}},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Compute(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "computes/s")
}

// BenchmarkComputeYear is a member with 50 bills over two years, a few of them major disease.
func BenchmarkComputeYear(b *testing.B) {
	e := shipped(b)
	var in policy.Input
	for i := range 50 {
		bill := policy.Bill{RecordID: uint64(100 + i), ClaimType: model.ClaimTypes[i%3], Date: dateAt(365 + i*14),
			SelfPay1Fen: model.Fen(10_000 + i*7_919)}
		if i%10 == 9 {
			bill.AboveCapFen, bill.MajorDisease = model.Fen(3_000_000+i*10_007), true
		}
		in.Bills = append(in.Bills, bill)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Compute(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "computes/s")
}
