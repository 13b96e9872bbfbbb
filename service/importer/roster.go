package importer

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/pii"
	"huzhu/service/sheet"
	"huzhu/service/store"
)

// rosterSpec are the roster columns, in template order.
func rosterSpec() []column {
	return []column{
		{key: "union_code", label: "工会编码", aliases: []string{"基层工会编码", "单位工会编码"}, required: true, example: "DEMO001"},
		{key: "union_name", label: "工会名称", aliases: []string{"基层工会名称", "单位工会"}, example: "北京示例科技有限公司工会", note: "新的工会编码必须填写名称"},
		{key: "dues", label: "单位上解经费", aliases: []string{"上解经费"}, example: "是", note: "是/否，不填则不改"},
		{key: "name", label: "姓名", required: true, example: "张示例"},
		{key: "id", label: "身份证号", aliases: []string{"身份证号码", "证件号码"}, required: true, example: "110199199001010010"},
		{key: "social", label: "社保卡号", aliases: []string{"社会保障卡号", "社保卡号码"}, example: "900000000001"},
		{key: "jingka", label: "京卡卡号", aliases: []string{"京卡号", "互助服务卡号", "京卡"}, example: "6217990000000001"},
		{key: "jingka_date", label: "京卡发卡日期", example: "2020-05-01"},
		{key: "bank", label: "开户银行", aliases: []string{"银行"}, example: "", note: "没有京卡时填写：中行、农行、建行、工行或北京银行"},
		{key: "bank_account", label: "银行卡号", aliases: []string{"银行账号"}, example: ""},
		{key: "phone", label: "手机号", aliases: []string{"手机号码", "联系电话"}, example: "10020000001"},
		{key: "participation", label: "参加方式", example: "免费参加", note: "免费参加/个人缴费/集体缴费，不填为免费参加"},
		{key: "paid_until", label: "缴费截止日期", aliases: []string{"缴费到期日"}, example: "", note: "缴费参加的必须填写"},
		{key: "joined", label: "入会日期", example: "2015-03-01"},
		{key: "employment", label: "在职状态", aliases: []string{"人员状态"}, example: "在职", note: "在职/退休/离职，不填为在职"},
		{key: "kind", label: "人员类别", example: "城镇职工", note: "城镇职工/农民工（新农合），不填为城镇职工"},
		{key: "insured", label: "参加北京医保", aliases: []string{"北京医保"}, example: "是", note: "是/否，不填为是"},
		{key: "hardship", label: "困难职工", example: "否", note: "是/否"},
		{key: "hardship_from", label: "困难职工开始日期", example: ""},
		{key: "hardship_until", label: "困难职工结束日期", example: ""},
		{key: "model_worker", label: "劳模", aliases: []string{"劳动模范"}, example: "否", note: "是/否"},
	}
}

// rosterRow is a parsed, validated roster row: numbers normalized, not yet sealed.
type rosterRow struct {
	unionCode, unionName string
	dues                 *bool
	m                    model.Member // plain facts; numbers below
	id, social, jingka   string
	bankAccount, phone   string
}

// Roster imports a roster file (see Template(model.ImportRoster)). Members are created or updated
// by ID number; unions are created from 工会编码 + 工会名称 when new. It returns Forbidden unless
// actor may Import.
func (s *Service) Roster(ctx context.Context, name string, r io.Reader, actor model.Actor) (Report, error) {
	spec := rosterSpec()
	a := &rosterApplier{s: s, spec: spec, unions: map[string]model.Union{}, seen: map[uint64]int{}}
	return run(ctx, s, model.ImportRoster, name, r, actor, spec, a.parse, a, 1) // unions are created on the way: one batch at a time
}

type rosterApplier struct {
	s      *Service
	spec   []column
	unions map[string]model.Union // by code, cached over the whole import
	seen   map[uint64]int         // ID hash prefix → first row, for duplicates within the file (8 bytes a row)
}

func (a *rosterApplier) parse(_ int, cells []string, cols map[string]int) (rosterRow, *Problem) {
	get := func(k string) string { return sheet.Cell(cells, cols, k) }
	bad := func(key, format string, args ...any) (rosterRow, *Problem) {
		return rosterRow{}, &Problem{Column: label(a.spec, key), Message: fmt.Sprintf(format, args...)}
	}
	var v rosterRow
	if v.unionCode = get("union_code"); v.unionCode == "" {
		return bad("union_code", "工会编码是空的")
	}
	if len([]rune(v.unionCode)) > 32 {
		return bad("union_code", "工会编码太长（最多32个字符）")
	}
	v.unionName = get("union_name")
	if d := get("dues"); d != "" {
		b, ok := yesNo(d)
		if !ok {
			return bad("dues", "“%s”应为“是”或“否”", d)
		}
		v.dues = &b
	}
	if get("name") == "" {
		return bad("name", "姓名是空的")
	}
	name, nerr := model.PersonName(get("name"))
	if nerr != nil {
		return bad("name", "姓名%s；请按身份证上的姓名填写", nerr.Error())
	}
	if v.m.Name = name; len([]rune(v.m.Name)) > 64 {
		return bad("name", "姓名太长（最多64个字）")
	}
	id, err := pii.ParseIDNumber(get("id"))
	if err != nil {
		return bad("id", "%s", err.Error())
	}
	v.id = id.Value()
	v.m.BirthDate, v.m.Gender = model.Date(id.BirthDate()), id.Gender()
	if x := get("social"); x != "" {
		if v.social, err = pii.NormalizeSocialCard(x); err != nil {
			return bad("social", "社保卡号%s", err.Error())
		}
	}
	if x := get("jingka"); x != "" {
		if v.jingka, err = pii.NormalizeDigits(x, 16, 19); err != nil {
			return bad("jingka", "京卡卡号%s", err.Error())
		}
	}
	var p *Problem
	if v.m.JingCardIssuedOn, p = a.date(get("jingka_date"), "jingka_date"); p != nil {
		return rosterRow{}, p
	}
	bankName, acct := get("bank"), get("bank_account")
	switch {
	case bankName == "" && acct == "":
	case bankName == "" || acct == "":
		return bad("bank", "开户银行和银行卡号要一起填写")
	default:
		if v.m.BankCode, err = model.ParseBank(bankName); err != nil {
			return bad("bank", "“%s”不是可以发放互助金的银行，应为中行、农行、建行、工行或北京银行", bankName)
		}
		if v.bankAccount, err = pii.NormalizeDigits(acct, 12, 19); err != nil {
			return bad("bank_account", "银行卡号%s", err.Error())
		}
	}
	if x := get("phone"); x != "" {
		if v.phone, err = pii.NormalizePhone(x); err != nil {
			return bad("phone", "%s", err.Error())
		}
	}
	switch x := get("participation"); x {
	case "", "免费", "免费参加":
		v.m.Participation = model.ParticipationFree
	case "个人缴费", "缴费", "个人缴费参加", "缴费参保":
		v.m.Participation = model.ParticipationPaid
	case "集体缴费", "集体缴费参加":
		v.m.Participation = model.ParticipationCollective
	default:
		return bad("participation", "“%s”无法识别，应为免费参加、个人缴费或集体缴费", x)
	}
	if v.m.PaidUntil, p = a.date(get("paid_until"), "paid_until"); p != nil {
		return rosterRow{}, p
	}
	if v.m.Participation != model.ParticipationFree && v.m.PaidUntil == "" {
		return bad("paid_until", "缴费参加的职工必须填写缴费截止日期")
	}
	if v.m.JoinedOn, p = a.date(get("joined"), "joined"); p != nil {
		return rosterRow{}, p
	}
	switch x := get("employment"); x {
	case "", "在职":
		v.m.Employment = model.EmploymentInService
	case "退休":
		v.m.Employment = model.EmploymentRetired
	case "离职", "调出":
		v.m.Employment = model.EmploymentLeft
	default:
		return bad("employment", "“%s”无法识别，应为在职、退休或离职", x)
	}
	switch x := get("kind"); x {
	case "", "城镇职工", "城镇":
		v.m.Kind = model.WorkerUrban
	case "农民工", "新农合", "农村", "农村职工":
		v.m.Kind = model.WorkerRural
	default:
		return bad("kind", "“%s”无法识别，应为城镇职工或农民工（新农合）", x)
	}
	v.m.InsuredBeijing = true
	if x := get("insured"); x != "" {
		b, ok := yesNo(x)
		if !ok {
			return bad("insured", "“%s”应为“是”或“否”", x)
		}
		v.m.InsuredBeijing = b
	}
	for _, f := range []struct {
		key string
		dst *bool
	}{{"hardship", &v.m.Hardship}, {"model_worker", &v.m.ModelWorker}} {
		if x := get(f.key); x != "" {
			b, ok := yesNo(x)
			if !ok {
				return bad(f.key, "“%s”应为“是”或“否”", x)
			}
			*f.dst = b
		}
	}
	if v.m.HardshipFrom, p = a.date(get("hardship_from"), "hardship_from"); p != nil {
		return rosterRow{}, p
	}
	if v.m.HardshipUntil, p = a.date(get("hardship_until"), "hardship_until"); p != nil {
		return rosterRow{}, p
	}
	if v.m.HardshipFrom != "" && v.m.HardshipUntil != "" && v.m.HardshipUntil < v.m.HardshipFrom {
		return bad("hardship_until", "困难职工结束日期早于开始日期")
	}
	return v, nil
}

// date parses an optional date cell.
func (a *rosterApplier) date(s, key string) (model.Date, *Problem) {
	if s == "" {
		return "", nil
	}
	d, err := parseDate(s)
	if err != nil {
		return "", &Problem{Column: label(a.spec, key), Message: fmt.Sprintf("日期“%s”无法识别，应写成 2025-03-14", s)}
	}
	return d, nil
}

func (a *rosterApplier) apply(ctx context.Context, tx *gorm.DB, rows []parsed[rosterRow]) ([]outcome, []*Problem, error) {
	outs := make([]outcome, len(rows))
	probs := make([]*Problem, len(rows))
	if err := a.loadUnions(tx, rows); err != nil {
		return nil, nil, err
	}
	hashes := make([]string, len(rows))
	for i, r := range rows {
		hashes[i] = a.s.cipher.Hash(pii.KindIDNumber, r.v.id)
	}
	var existing []model.Member
	if err := tx.Where("id_number_hash IN ?", hashes).Find(&existing).Error; err != nil {
		return nil, nil, fmt.Errorf("load members: %w", err)
	}
	byHash := make(map[string]model.Member, len(existing))
	for _, m := range existing {
		byHash[m.IDNumberHash] = m
	}
	var inserts []model.Member
	for i, r := range rows {
		key, _ := strconv.ParseUint(hashes[i][:16], 16, 64) // a 64-bit prefix of the HMAC: collisions are negligible
		if first, dup := a.seen[key]; dup {
			probs[i] = &Problem{Column: label(a.spec, "id"), Message: fmt.Sprintf("身份证号与第 %d 行重复，本行未导入", first)}
			continue
		}
		a.seen[key] = r.row
		u, p, err := a.union(tx, r.v)
		if err != nil {
			return nil, nil, err
		}
		if p != nil {
			probs[i] = p
			continue
		}
		if p := a.duesChange(tx, &u, r.v.dues); p != nil {
			probs[i] = p
			continue
		}
		m := r.v.m
		m.UnionID = u.ID
		m.IDNumberHash, m.IDLast4 = hashes[i], pii.Last4(r.v.id)
		old, found := byHash[hashes[i]]
		if found && sameMember(a.s.cipher, old, m, r.v) {
			outs[i] = same
			continue
		}
		a.seal(&m, r.v, old, found)
		if !found {
			inserts = append(inserts, m)
			outs[i] = added
			continue
		}
		m.ID, m.CreatedAt = old.ID, old.CreatedAt
		if err := tx.Select("*").Omit("created_at").Save(&m).Error; err != nil {
			return nil, nil, fmt.Errorf("update member %d: %w", old.ID, err)
		}
		outs[i] = updated
	}
	if len(inserts) > 0 {
		if err := tx.CreateInBatches(inserts, store.BulkRows(tx)).Error; err != nil {
			return nil, nil, fmt.Errorf("insert members: %w", err)
		}
	}
	return outs, probs, nil
}

// seal encrypts the row's numbers into m, keeping the old ciphertext of numbers that did not
// change (so an unchanged number is not re-encrypted on every import).
func (a *rosterApplier) seal(m *model.Member, v rosterRow, old model.Member, found bool) {
	c := a.s.cipher
	keep := func(kind, value string, oldEnc []byte, oldHash string) pii.Sealed {
		if found && value != "" && c.Hash(kind, value) == oldHash {
			return pii.Sealed{Enc: oldEnc, Hash: oldHash, Last4: pii.Last4(value)}
		}
		return c.Seal(kind, value)
	}
	id := keep(pii.KindIDNumber, v.id, old.IDNumberEnc, old.IDNumberHash)
	social := keep(pii.KindSocialCard, v.social, old.SocialCardEnc, old.SocialCardHash)
	card := keep(pii.KindJingCard, v.jingka, old.JingCardEnc, old.JingCardHash)
	bank := keep(pii.KindBank, v.bankAccount, old.BankAccountEnc, old.BankAccountHash)
	phone := keep(pii.KindPhone, v.phone, old.PhoneEnc, old.PhoneHash)
	m.IDNumberEnc = id.Enc
	m.SocialCardEnc, m.SocialCardHash, m.SocialCardLast4 = social.Enc, social.Hash, social.Last4
	m.JingCardEnc, m.JingCardHash, m.JingCardLast4 = card.Enc, card.Hash, card.Last4
	m.BankAccountEnc, m.BankAccountHash, m.BankAccountLast4 = bank.Enc, bank.Hash, bank.Last4
	m.PhoneEnc, m.PhoneHash, m.PhoneLast4 = phone.Enc, phone.Hash, phone.Last4
	if m.ImportBatchID == 0 {
		m.ImportBatchID = old.ImportBatchID
	}
}

// sameMember reports whether the roster row says nothing new about old.
func sameMember(c *pii.Cipher, old, m model.Member, v rosterRow) bool {
	return old.UnionID == m.UnionID && old.Name == m.Name &&
		old.SocialCardHash == c.Hash(pii.KindSocialCard, v.social) && old.JingCardHash == c.Hash(pii.KindJingCard, v.jingka) &&
		old.JingCardIssuedOn == m.JingCardIssuedOn && old.BankCode == m.BankCode &&
		old.BankAccountHash == c.Hash(pii.KindBank, v.bankAccount) && old.PhoneHash == c.Hash(pii.KindPhone, v.phone) &&
		old.InsuredBeijing == m.InsuredBeijing && old.Employment == m.Employment && old.Kind == m.Kind &&
		old.Participation == m.Participation && old.PaidUntil == m.PaidUntil && old.JoinedOn == m.JoinedOn &&
		old.Hardship == m.Hardship && old.HardshipFrom == m.HardshipFrom && old.HardshipUntil == m.HardshipUntil &&
		old.ModelWorker == m.ModelWorker
}

// loadUnions caches the unions the batch names.
func (a *rosterApplier) loadUnions(tx *gorm.DB, rows []parsed[rosterRow]) error {
	var codes []string
	for _, r := range rows {
		if _, ok := a.unions[r.v.unionCode]; !ok && !slices.Contains(codes, r.v.unionCode) {
			codes = append(codes, r.v.unionCode)
		}
	}
	if len(codes) == 0 {
		return nil
	}
	var us []model.Union
	if err := tx.Where("code IN ?", codes).Find(&us).Error; err != nil {
		return fmt.Errorf("load unions: %w", err)
	}
	for _, u := range us {
		a.unions[u.Code] = u
	}
	return nil
}

// union returns the row's union, creating it when the row names a new code with a name. An
// error fails the batch: a duplicate key means a concurrent import created the union first, and
// the batch is applied again (see retry).
func (a *rosterApplier) union(tx *gorm.DB, v rosterRow) (model.Union, *Problem, error) {
	if u, ok := a.unions[v.unionCode]; ok {
		if u.ID == 0 {
			return u, &Problem{Column: label(a.spec, "union_code"), Message: fmt.Sprintf("没有编码为“%s”的工会；新的工会请同时填写工会名称", v.unionCode)}, nil
		}
		return u, nil, nil
	}
	if strings.TrimSpace(v.unionName) == "" {
		a.unions[v.unionCode] = model.Union{Code: v.unionCode} // remembered as unknown for the other rows
		return model.Union{}, &Problem{Column: label(a.spec, "union_code"), Message: fmt.Sprintf("没有编码为“%s”的工会；新的工会请同时填写工会名称", v.unionCode)}, nil
	}
	u := model.Union{Code: v.unionCode, Name: model.Fit(v.unionName, 128), PaysDues: true}
	if v.dues != nil {
		u.PaysDues = *v.dues
	}
	if err := tx.Create(&u).Error; err != nil {
		return u, nil, fmt.Errorf("create union %s: %w", v.unionCode, err)
	}
	a.unions[u.Code] = u
	return u, nil, nil
}

// retry forgets what a failed attempt at rows remembered: the rows it took as seen, and the
// unions it created or looked up (created ones were rolled back with it).
func (a *rosterApplier) retry(rows []parsed[rosterRow]) {
	for _, r := range rows {
		key, _ := strconv.ParseUint(a.s.cipher.Hash(pii.KindIDNumber, r.v.id)[:16], 16, 64)
		if a.seen[key] == r.row {
			delete(a.seen, key)
		}
	}
	clear(a.unions)
}

// duesChange applies a row's 单位上解经费 to an existing union.
func (a *rosterApplier) duesChange(tx *gorm.DB, u *model.Union, dues *bool) *Problem {
	if dues == nil || u.PaysDues == *dues {
		return nil
	}
	if err := tx.Model(&model.Union{}).Where("id = ?", u.ID).Update("pays_dues", *dues).Error; err != nil {
		return &Problem{Column: label(a.spec, "dues"), Message: "无法更新工会的上解经费状态"}
	}
	u.PaysDues = *dues
	a.unions[u.Code] = *u
	return nil
}

func yesNo(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "是", "y", "yes", "1", "true", "有":
		return true, true
	case "否", "n", "no", "0", "false", "无":
		return false, true
	}
	return false, false
}

// parseDate accepts what model.ParseDate does, plus Excel's serial day numbers (a date cell
// without a date format reads as e.g. 45292).
func parseDate(s string) (model.Date, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 20000 && n < 80000 {
		return model.DateOf(time.Date(1899, 12, 30, 0, 0, 0, 0, model.Shanghai).AddDate(0, 0, n)), nil
	}
	return model.ParseDate(s)
}
