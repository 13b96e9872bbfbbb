package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"huzhu/model"
	"huzhu/service/pii"
)

// gen draws the synthetic roster and records; it is deterministic for a seed.
type gen struct {
	rng       *rand.Rand
	cipher    *pii.Cipher
	now       time.Time
	firstYear int
	// unionOf[i] is the index of member i's union; recordOwner[j] the index of record j's member.
	unionOf     []int
	recordOwner []int
	seq         int
}

var unionNames = []struct{ name, district string }{
	{"北京示例科技有限公司工会", "海淀区"},
	{"示例建设集团第三工程有限公司工会", "丰台区"},
	{"北京示例物流有限公司工会", "通州区"},
	{"示例医院工会", "东城区"},
	{"北京示例餐饮管理有限公司工会", "朝阳区"},
	{"示例物业服务有限公司工会", "西城区"},
	{"示例职业学校工会", "昌平区"},
	{"北京示例制造有限公司工会", "大兴区"}, // pays no dues: its members join by paying
}

const noDuesUnion = 7

var (
	surnames = []rune("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕")
	given    = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力志宇欣怡晨阳")
	// hospitals are real kinds of places with made-up names.
	hospitals = []string{"示例第一医院", "示例中医医院", "示例社区卫生服务中心", "示例儿童医院", "示例肿瘤医院", "示例区医院"}
)

// roster returns the unions, members and records; members' UnionID and records' MemberID are
// filled in by the caller after insertion, through unionOf and recordOwner.
func (g *gen) roster(n int) ([]model.Union, []model.Member, []model.MedicalRecord) {
	g.firstYear = g.now.Year() - 1
	unions := make([]model.Union, len(unionNames))
	for i, u := range unionNames {
		unions[i] = model.Union{Code: fmt.Sprintf("DEMO%03d", i+1), Name: u.name, District: u.district, PaysDues: i != noDuesUnion}
	}
	members := make([]model.Member, 0, n)
	var records []model.MedicalRecord
	for i := range n {
		ui := g.rng.IntN(len(unions))
		m := g.member(i, ui)
		members = append(members, m)
		g.unionOf = append(g.unionOf, ui)
		for _, r := range g.records(i, m) {
			records = append(records, r)
			g.recordOwner = append(g.recordOwner, i)
		}
	}
	return unions, members, records
}

// member draws member i of union ui. Member 0 is the worked example of 工人日报 2021-09-13: a
// worker with leukaemia whose 自付一 above the cap reaches 570,000 yuan in a year.
func (g *gen) member(i, ui int) model.Member {
	birth := time.Date(1965+g.rng.IntN(36), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), 0, 0, 0, 0, model.Shanghai)
	name := string(surnames[g.rng.IntN(len(surnames))]) + string(given[g.rng.IntN(len(given))])
	if g.rng.IntN(2) == 0 {
		name += string(given[g.rng.IntN(len(given))])
	}
	first17 := fmt.Sprintf("110199%s%03d", birth.Format("20060102"), i%1000)
	id := first17 + string(pii.CheckDigit(first17))
	social := fmt.Sprintf("9%011d", 10000000+i)
	phone := fmt.Sprintf("100%08d", 20000000+i)
	joined := time.Date(2008+g.rng.IntN(14), time.Month(1+g.rng.IntN(12)), 1, 0, 0, 0, 0, model.Shanghai)
	m := model.Member{
		Name: name, BirthDate: model.DateOf(birth), Gender: genderOf(id),
		InsuredBeijing: true, Employment: model.EmploymentInService, Kind: model.WorkerUrban,
		Participation: model.ParticipationFree, JoinedOn: model.DateOf(joined),
	}
	roll := g.rng.IntN(100)
	switch {
	case i == 0:
		m.Name = "李示例"
	case roll < 4:
		m.Employment = model.EmploymentRetired
	case roll < 12:
		m.Kind = model.WorkerRural
	case roll < 14:
		m.InsuredBeijing = false
	}
	if ui == noDuesUnion {
		// Most members of a union that pays no dues join collectively; a few never did.
		if g.rng.IntN(5) > 0 {
			m.Participation = model.ParticipationCollective
			m.PaidUntil = model.Date(fmt.Sprintf("%d-12-31", g.now.Year()))
		}
	}
	card := ""
	switch c := g.rng.IntN(100); {
	case i == 0 || c >= 6:
		card = fmt.Sprintf("621799%010d", 1000000+i)
		m.JingCardIssuedOn = m.JoinedOn
	case c >= 3:
		m.BankCode = model.Banks[g.rng.IntN(len(model.Banks))]
		ba := g.cipher.Seal(pii.KindBank, fmt.Sprintf("622200%013d", 3000000+i))
		m.BankAccountEnc, m.BankAccountHash, m.BankAccountLast4 = ba.Enc, ba.Hash, ba.Last4
	default:
		// Joined recently and has no card yet.
		m.JoinedOn = model.DateOf(g.now.AddDate(0, -1, 0))
	}
	if h := g.rng.IntN(100); h < 4 {
		m.Hardship, m.HardshipFrom = true, model.Date(fmt.Sprintf("%d-01-01", g.firstYear))
	} else if h < 6 {
		m.ModelWorker = true
	}
	idS, socialS, cardS, phoneS := g.cipher.Seal(pii.KindIDNumber, id), g.cipher.Seal(pii.KindSocialCard, social),
		g.cipher.Seal(pii.KindJingCard, card), g.cipher.Seal(pii.KindPhone, phone)
	m.IDNumberEnc, m.IDNumberHash, m.IDLast4 = idS.Enc, idS.Hash, idS.Last4
	m.SocialCardEnc, m.SocialCardHash, m.SocialCardLast4 = socialS.Enc, socialS.Hash, socialS.Last4
	m.JingCardEnc, m.JingCardHash, m.JingCardLast4 = cardS.Enc, cardS.Hash, cardS.Last4
	m.PhoneEnc, m.PhoneHash, m.PhoneLast4 = phoneS.Enc, phoneS.Hash, phoneS.Last4
	return m
}

func genderOf(id string) string {
	if (id[16]-'0')%2 == 1 {
		return "M"
	}
	return "F"
}

// records draws member i's 医保 records from January of firstYear to yesterday.
func (g *gen) records(i int, m model.Member) []model.MedicalRecord {
	yesterday := g.now.AddDate(0, 0, -1)
	start := time.Date(g.firstYear, 1, 1, 0, 0, 0, 0, model.Shanghai)
	days := int(yesterday.Sub(start).Hours() / 24)
	var out []model.MedicalRecord
	add := func(ct model.ClaimType, at time.Time, selfPay1 model.Fen) *model.MedicalRecord {
		g.seq++
		fund := selfPay1 * model.Fen(1+g.rng.IntN(4))
		r := model.MedicalRecord{
			RecordNo: fmt.Sprintf("DEMO%s%06d", at.Format("200601"), g.seq), ClaimType: ct, VisitDate: model.DateOf(at),
			Hospital: hospitals[g.rng.IntN(len(hospitals))], SelfPay1Fen: selfPay1, FundPaidFen: fund,
			SelfPay2Fen: model.Fen(g.rng.IntN(20000)), SelfFundedFen: model.Fen(g.rng.IntN(30000)),
		}
		if ct != model.ClaimOutpatient {
			r.DischargeDate = model.DateOf(at.AddDate(0, 0, 3+g.rng.IntN(10)))
		}
		r.TotalFen = r.FundPaidFen + r.SelfPay1Fen + r.SelfPay2Fen + r.SelfFundedFen
		out = append(out, r)
		return &out[len(out)-1]
	}
	if i == 0 {
		// The worked example, in the first year: treatment all year, 570,000 yuan of 自付一 above
		// the basic-insurance cap in total, plus 自付一 within it.
		for month := 1; month <= 10; month++ {
			at := time.Date(g.firstYear, time.Month(month), 8, 0, 0, 0, 0, model.Shanghai)
			r := add(model.ClaimSpecialInpatient, at, 1_200_000)
			r.MajorDisease = true
			r.AboveCapFen = 5_700_000 // 57,000 yuan a month, 570,000 in ten months
			r.TotalFen += r.AboveCapFen
		}
		return out
	}
	for range g.rng.IntN(7) {
		add(model.ClaimOutpatient, start.AddDate(0, 0, g.rng.IntN(days)), model.Fen(5000+g.rng.IntN(300000)))
	}
	if g.rng.IntN(100) < 12 {
		add(model.ClaimInpatient, start.AddDate(0, 0, g.rng.IntN(days)), model.Fen(200000+g.rng.IntN(3000000)))
	}
	if g.rng.IntN(100) < 2 {
		r := add(model.ClaimSpecialInpatient, start.AddDate(0, 0, g.rng.IntN(days)), model.Fen(1000000+g.rng.IntN(4000000)))
		r.MajorDisease = true
		r.AboveCapFen = model.Fen(g.rng.IntN(20000000))
		r.TotalFen += r.AboveCapFen
	}
	return out
}

// accounts binds one member in three (never member 0, the demo worker a newcomer binds) to a
// synthetic WeChat account that follows the official account, bound and following since before
// the first settlement: their notices go out as 公众号模板消息, everyone else's as SMS.
func (g *gen) accounts(members []model.Member) []model.WeChatAccount {
	var out []model.WeChatAccount
	for i := range members {
		if i == 0 || i%3 != 1 {
			continue
		}
		since := time.Date(g.firstYear-1, 12, 1+i%28, 9, 0, 0, 0, model.Shanghai)
		mp, oa, union := fmt.Sprintf("demo-mp-%d", i), fmt.Sprintf("demo-oa-%d", i), fmt.Sprintf("demo-union-%d", i)
		id := members[i].ID
		out = append(out, model.WeChatAccount{MPOpenID: &mp, OAOpenID: &oa, UnionID: &union, MemberID: &id, BoundAt: &since,
			Following: true, FollowedAt: &since, CreatedAt: since, UpdatedAt: since})
	}
	return out
}
