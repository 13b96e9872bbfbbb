package importer

import (
	"context"
	"fmt"
	"hash/maphash"
	"io"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/pii"
	"huzhu/service/sheet"
	"huzhu/service/store"
)

// Plan limits a record must respect: no bill before the plan's first policy, none in the future,
// no amount a single visit cannot reach.
const (
	firstBillDate = model.Date("2008-01-01")
	maxAmountFen  = model.Fen(100_000_000_00) // 100 million yuan
)

// medicalSpec are the 医保 record columns, in template order.
func medicalSpec() []column {
	return []column{
		{key: "record_no", label: "结算单号", aliases: []string{"医保结算单号", "结算编号", "单据号"}, required: true, example: "JS202503140001"},
		{key: "social", label: "社保卡号", aliases: []string{"社会保障卡号"}, example: "900000000001", note: "社保卡号和身份证号至少填一个"},
		{key: "id", label: "身份证号", aliases: []string{"身份证号码", "证件号码"}, example: ""},
		{key: "claim", label: "类别", aliases: []string{"就诊类别", "报销类别", "医疗类别"}, required: true, example: "门诊", note: "门诊/普通住院/特病住院"},
		{key: "visit", label: "就诊日期", aliases: []string{"入院日期", "结算日期", "费用日期"}, required: true, example: "2025-03-14"},
		{key: "discharge", label: "出院日期", example: ""},
		{key: "hospital", label: "医院", aliases: []string{"医疗机构", "医院名称", "定点医疗机构"}, example: "示例第一医院"},
		{key: "total", label: "医疗费总额", aliases: []string{"总费用", "费用总额"}, required: true, example: "1234.56"},
		{key: "fund", label: "统筹支付", aliases: []string{"基金支付", "医保统筹支付"}, example: "800.00"},
		{key: "self1", label: "自付一", aliases: []string{"自付1", "自付一金额"}, required: true, example: "300.00"},
		{key: "self2", label: "自付二", aliases: []string{"自付2", "自付二金额"}, example: "84.56"},
		{key: "selffunded", label: "自费", aliases: []string{"自费金额"}, example: "50.00"},
		{key: "above", label: "超封顶线自付一", aliases: []string{"超封顶线金额", "封顶线以上自付一"}, example: "0", note: "超过基本医疗保险封顶线的自付一"},
		{key: "major", label: "重大疾病", aliases: []string{"重大病"}, example: "否", note: "是/否"},
	}
}

type medicalRow struct {
	r          model.MedicalRecord
	social, id string
}

// Medical imports 医保 settlement records (see Template(model.ImportMedical)). Records are keyed
// by 结算单号; each names its member by social-card number or, failing that, ID number. It
// returns Forbidden unless actor may Import.
func (s *Service) Medical(ctx context.Context, name string, r io.Reader, actor model.Actor) (Report, error) {
	spec := medicalSpec()
	a := &medicalApplier{s: s, spec: spec, today: model.DateOf(s.now()), seen: map[uint64]int{}, seenSeed: maphash.MakeSeed()}
	return run(ctx, s, model.ImportMedical, name, r, actor, spec, a.parse, a, s.o.Workers)
}

type medicalApplier struct {
	s     *Service
	spec  []column
	today model.Date
	// seen maps a 64-bit hash of each good row's 结算单号 to its row, for duplicates within the
	// file: 16 bytes a row instead of the string, at a million rows. A hash collision (odds about
	// 1 in 4·10^7 for a million rows) would report a false duplicate to staff, never lose a row silently.
	seen     map[uint64]int
	seenSeed maphash.Seed
}

// parse validates one row. It runs in file order, so it also catches a 结算单号 seen before in
// the file; apply may then run batches in parallel.
func (a *medicalApplier) parse(row int, cells []string, cols map[string]int) (medicalRow, *Problem) {
	get := func(k string) string { return sheet.Cell(cells, cols, k) }
	bad := func(key, format string, args ...any) (medicalRow, *Problem) {
		return medicalRow{}, &Problem{Column: label(a.spec, key), Message: fmt.Sprintf(format, args...)}
	}
	var v medicalRow
	if v.r.RecordNo = get("record_no"); v.r.RecordNo == "" {
		return bad("record_no", "结算单号是空的")
	}
	if len(v.r.RecordNo) > 64 {
		return bad("record_no", "结算单号太长（最多64个字符）")
	}
	if first, dup := a.seen[maphash.String(a.seenSeed, v.r.RecordNo)]; dup {
		return bad("record_no", "结算单号与第 %d 行重复，本行未导入", first)
	}
	var err error
	if x := get("social"); x != "" {
		if v.social, err = pii.NormalizeSocialCard(x); err != nil {
			return bad("social", "社保卡号%s", err.Error())
		}
	}
	if x := get("id"); x != "" {
		id, err := pii.ParseIDNumber(x)
		if err != nil {
			return bad("id", "%s", err.Error())
		}
		v.id = id.Value()
	}
	if v.social == "" && v.id == "" {
		return bad("social", "社保卡号和身份证号都是空的，无法找到职工")
	}
	if v.r.ClaimType, err = model.ParseClaimType(get("claim")); err != nil {
		return bad("claim", "类别“%s”无法识别，应为门诊、普通住院或特病住院", get("claim"))
	}
	if v.r.VisitDate, err = parseDate(get("visit")); err != nil {
		return bad("visit", "日期“%s”无法识别，应写成 2025-03-14", get("visit"))
	}
	if v.r.VisitDate < firstBillDate || v.r.VisitDate > a.today {
		return bad("visit", "就诊日期 %s 不在本计划的时间范围内（%s 至今天）", v.r.VisitDate, firstBillDate)
	}
	if x := get("discharge"); x != "" {
		if v.r.DischargeDate, err = parseDate(x); err != nil {
			return bad("discharge", "日期“%s”无法识别，应写成 2025-03-14", x)
		}
		if v.r.DischargeDate < v.r.VisitDate || v.r.DischargeDate > a.today {
			return bad("discharge", "出院日期 %s 早于就诊日期或晚于今天", v.r.DischargeDate)
		}
	}
	v.r.Hospital = model.Fit(get("hospital"), 128)
	for _, f := range []struct {
		key string
		dst *model.Fen
	}{{"total", &v.r.TotalFen}, {"fund", &v.r.FundPaidFen}, {"self1", &v.r.SelfPay1Fen}, {"self2", &v.r.SelfPay2Fen},
		{"selffunded", &v.r.SelfFundedFen}, {"above", &v.r.AboveCapFen}} {
		x := get(f.key)
		if x == "" {
			continue
		}
		amt, err := model.ParseYuan(x)
		switch {
		case err != nil:
			return bad(f.key, "金额“%s”无法识别，应写成元，最多两位小数，例如 1234.56", x)
		case amt < 0:
			return bad(f.key, "金额不能是负数")
		case amt > maxAmountFen:
			return bad(f.key, "金额 %s 元超出合理范围，请核对", amt.YuanGrouped())
		}
		*f.dst = amt
	}
	if parts := v.r.SelfPay1Fen + v.r.SelfPay2Fen + v.r.SelfFundedFen; v.r.TotalFen < parts {
		return bad("total", "医疗费总额 %s 元小于自付一、自付二、自费之和 %s 元", v.r.TotalFen.YuanGrouped(), parts.YuanGrouped())
	}
	if x := get("major"); x != "" {
		b, ok := yesNo(x)
		if !ok {
			return bad("major", "“%s”应为“是”或“否”", x)
		}
		v.r.MajorDisease = b
	}
	a.seen[maphash.String(a.seenSeed, v.r.RecordNo)] = row // only good rows: a corrected copy of a bad row is not a duplicate
	return v, nil
}

func (a *medicalApplier) apply(ctx context.Context, tx *gorm.DB, rows []parsed[medicalRow]) ([]outcome, []*Problem, error) {
	outs := make([]outcome, len(rows))
	probs := make([]*Problem, len(rows))
	c := a.s.cipher
	nos := make([]string, 0, len(rows))
	var socials, ids []string
	for _, r := range rows {
		nos = append(nos, r.v.r.RecordNo)
		if r.v.social != "" {
			socials = append(socials, c.Hash(pii.KindSocialCard, r.v.social))
		}
		if r.v.id != "" {
			ids = append(ids, c.Hash(pii.KindIDNumber, r.v.id))
		}
	}
	type ref struct {
		ID                           uint64
		SocialCardHash, IDNumberHash string
	}
	var members []ref
	if err := tx.Model(&model.Member{}).Where("social_card_hash IN ? OR id_number_hash IN ?", nonEmpty(socials), nonEmpty(ids)).
		Select("id, social_card_hash, id_number_hash").Scan(&members).Error; err != nil {
		return nil, nil, fmt.Errorf("find members: %w", err)
	}
	bySocial, byID := map[string]uint64{}, map[string]uint64{}
	for _, m := range members {
		if m.SocialCardHash != "" {
			bySocial[m.SocialCardHash] = m.ID
		}
		byID[m.IDNumberHash] = m.ID
	}
	var existing []model.MedicalRecord
	if err := tx.Where("record_no IN ?", nos).Find(&existing).Error; err != nil {
		return nil, nil, fmt.Errorf("find records: %w", err)
	}
	byNo := make(map[string]model.MedicalRecord, len(existing))
	for _, r := range existing {
		byNo[r.RecordNo] = r
	}
	var inserts []model.MedicalRecord
	for i, row := range rows {
		v := row.v
		var memberID uint64
		if v.social != "" {
			memberID = bySocial[c.Hash(pii.KindSocialCard, v.social)]
		}
		if memberID == 0 && v.id != "" {
			memberID = byID[c.Hash(pii.KindIDNumber, v.id)]
		}
		if memberID == 0 {
			probs[i] = &Problem{Column: label(a.spec, "social"), Message: "花名册中没有这名职工（按社保卡号和身份证号都没有找到），请先导入花名册"}
			continue
		}
		rec := v.r
		rec.MemberID = memberID
		old, found := byNo[rec.RecordNo]
		if !found {
			inserts = append(inserts, rec)
			outs[i] = added
			continue
		}
		if old.Source.FromClaim() {
			probs[i] = &Problem{Column: label(a.spec, "record_no"), Message: "结算单号与职工补充申请的编号相同，未导入；请核对结算单号"}
			continue
		}
		if sameRecord(old, rec) {
			outs[i] = same
			continue
		}
		if old.SettlementRunID != 0 {
			probs[i] = &Problem{Column: label(a.spec, "record_no"), Message: "这条记录已经结算，内容与导入的不同，未修改；如需更正请联系办事处"}
			continue
		}
		res := tx.Model(&model.MedicalRecord{}).Where("id = ? AND settlement_run_id = 0", old.ID).Updates(map[string]any{
			"member_id": rec.MemberID, "claim_type": rec.ClaimType, "visit_date": rec.VisitDate, "discharge_date": rec.DischargeDate,
			"hospital": rec.Hospital, "total_fen": rec.TotalFen, "fund_paid_fen": rec.FundPaidFen, "self_pay1_fen": rec.SelfPay1Fen,
			"self_pay2_fen": rec.SelfPay2Fen, "self_funded_fen": rec.SelfFundedFen, "above_cap_fen": rec.AboveCapFen, "major_disease": rec.MajorDisease})
		if res.Error != nil {
			return nil, nil, fmt.Errorf("update record %d: %w", old.ID, res.Error)
		}
		if res.RowsAffected == 0 {
			probs[i] = &Problem{Column: label(a.spec, "record_no"), Message: "这条记录刚被结算，未修改；如需更正请联系办事处"}
			continue
		}
		outs[i] = updated
	}
	if len(inserts) > 0 {
		if err := tx.CreateInBatches(inserts, store.BulkRows(tx)).Error; err != nil {
			return nil, nil, fmt.Errorf("insert records: %w", err)
		}
	}
	return outs, probs, nil
}

func sameRecord(a, b model.MedicalRecord) bool {
	return a.MemberID == b.MemberID && a.ClaimType == b.ClaimType && a.VisitDate == b.VisitDate && a.DischargeDate == b.DischargeDate &&
		a.Hospital == b.Hospital && a.TotalFen == b.TotalFen && a.FundPaidFen == b.FundPaidFen && a.SelfPay1Fen == b.SelfPay1Fen &&
		a.SelfPay2Fen == b.SelfPay2Fen && a.SelfFundedFen == b.SelfFundedFen && a.AboveCapFen == b.AboveCapFen && a.MajorDisease == b.MajorDisease
}

// nonEmpty keeps IN () valid on every database with a value no hash column holds.
func nonEmpty(s []string) []string {
	if len(s) == 0 {
		return []string{"-"}
	}
	return s
}
