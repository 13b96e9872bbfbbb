package importer

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/pii"
	"huzhu/service/store/storetest"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, model.Shanghai)

// Synthetic ID numbers with valid check digits and the unused area code 110199.
const (
	idA = "110199199001010010"
	idB = "110199199202020020"
	idC = "110199198505050038"
	idD = "11019919700707004X"
)

func newService(t *testing.T) (*Service, *gorm.DB, *pii.Cipher) {
	t.Helper()
	db := storetest.NewDB(t)
	c, err := pii.New(bytes.Repeat([]byte("i"), pii.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return New(db, c, Options{BatchSize: 2}, func() time.Time { return now }, nil), db, c
}

const rosterHeader = "工会编码,工会名称,姓名,身份证号,社保卡号,京卡卡号,开户银行,银行卡号,手机号,参加方式,缴费截止日期,入会日期,在职状态,人员类别,困难职工\n"

func roster(rows ...string) string { return rosterHeader + strings.Join(rows, "\n") + "\n" }

func problems(rep Report) map[int]string {
	out := map[int]string{}
	for _, p := range rep.Problems {
		out[p.Row] = p.Column + "：" + p.Message
	}
	return out
}

func TestRosterImportIsIdempotent(t *testing.T) {
	s, db, c := newService(t)
	file := roster(
		"U001,示例科技工会,张一,"+idA+",900000000001,6217990000000001,,,10020000001,免费参加,,2015-03-01,在职,城镇职工,否",
		"U001,,王二,"+idB+",900000000002,,工行,6222000000000002,,,,2020-01-01,在职,农民工,是",
		"U002,示例物流工会,李三,"+idC+",900000000003,6217990000000003,,,,集体缴费,2026-12-31,,退休,,",
	)
	rep, err := s.Roster(context.Background(), "roster.csv", strings.NewReader(file), asActor("staff"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 3 || rep.Added != 3 || rep.Bad != 0 {
		t.Fatalf("first import = %+v", rep)
	}
	var m model.Member
	db.Where("id_number_hash = ?", c.Hash(pii.KindIDNumber, idB)).Take(&m)
	if m.Name != "王二" || m.Kind != model.WorkerRural || !m.Hardship || m.BankCode != model.BankICBC || m.BankAccountLast4 != "0002" || m.IDLast4 != "0020" || m.BirthDate != "1992-02-02" {
		t.Errorf("member 王二 = %+v", m)
	}
	if plain, _ := c.Decrypt(m.BankAccountEnc); plain != "6222000000000002" || bytes.Contains(m.IDNumberEnc, []byte(idB)) {
		t.Errorf("bank account decrypts to %q; ID stored in clear: %v", plain, bytes.Contains(m.IDNumberEnc, []byte(idB)))
	}
	var unions int64
	db.Model(&model.Union{}).Count(&unions)
	if unions != 2 {
		t.Errorf("unions = %d, want 2 created from the file", unions)
	}

	again, err := s.Roster(context.Background(), "roster.csv", strings.NewReader(file), asActor("staff"))
	if err != nil || again.Same != 3 || again.Added+again.Updated+again.Bad != 0 {
		t.Errorf("re-import = %+v, %v; want 3 unchanged", again, err)
	}
	changed := strings.Replace(file, "10020000001", "10020000009", 1)
	upd, err := s.Roster(context.Background(), "roster2.csv", strings.NewReader(changed), asActor("staff"))
	if err != nil || upd.Updated != 1 || upd.Same != 2 {
		t.Errorf("import with one new phone = %+v, %v", upd, err)
	}
	var n int64
	db.Model(&model.Member{}).Count(&n)
	if n != 3 {
		t.Errorf("members = %d after three imports, want 3", n)
	}
	var audits int64
	db.Model(&model.AuditLog{}).Where("action = ?", "import.roster").Count(&audits)
	if audits != 3 {
		t.Errorf("audit rows = %d, want one per import", audits)
	}
}

func TestRosterReportsEveryBadRow(t *testing.T) {
	s, db, _ := newService(t)
	file := roster(
		"U001,示例科技工会,张一,"+idA+",,6217990000000001,,,,,,,,,", // row 2: good
		"U001,,坏号,110199199001010011,,,,,,,,,,,",            // row 3: check digit
		"U404,,无工会,"+idB+",,,,,,,,,,,",                      // row 4: unknown union
		"U001,,招行,"+idC+",,,招商银行,6225000000000001,,,,,,,",   // row 5: bank not one of five
		"U001,,重复,"+idA+",,,,,,,,,,,",                       // row 6: duplicate of row 2
		"U001,,缴费,"+idD+",,,,,,个人缴费,,,,,",                   // row 7: paid without end date
		"U001,,电话,"+idD+",,,,,2345,,,,,,",                   // row 8: bad phone
		"U001,,日期,"+idD+",,,,,,,,2015-13-45,,,",             // row 9: bad date
		"U001,,状态,"+idD+",,,,,,,,,下岗,,",                     // row 10: unknown status
		",,无编码,"+idD+",,,,,,,,,,,",                          // row 11: no union code
		"U001,,好人,"+idD+",,,,,,,,,,,",                       // row 12: good
	)
	rep, err := s.Roster(context.Background(), "bad.csv", strings.NewReader(file), asActor("staff"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{
		3:  "身份证号：身份证号校验位不对，请核对最后一位",
		4:  "工会编码：没有编码为“U404”的工会；新的工会请同时填写工会名称",
		5:  "开户银行：“招商银行”不是可以发放互助金的银行，应为中行、农行、建行、工行或北京银行",
		6:  "身份证号：身份证号与第 2 行重复，本行未导入",
		7:  "缴费截止日期：缴费参加的职工必须填写缴费截止日期",
		8:  "手机号：手机号应为11位数字",
		9:  "入会日期：日期“2015-13-45”无法识别，应写成 2025-03-14",
		10: "在职状态：“下岗”无法识别，应为在职、退休或离职",
		11: "工会编码：工会编码是空的",
	}
	got := problems(rep)
	for row, msg := range want {
		if got[row] != msg {
			t.Errorf("row %d: got %q, want %q", row, got[row], msg)
		}
	}
	if len(got) != len(want) || rep.Added != 2 || rep.Bad != len(want) || rep.Rows != 11 {
		t.Errorf("report = %+v", rep)
	}
	var names []string
	db.Model(&model.Member{}).Order("id").Pluck("name", &names)
	if strings.Join(names, ",") != "张一,好人" {
		t.Errorf("members = %v, want the two good rows", names)
	}
	var batch model.ImportBatch
	db.Take(&batch, rep.BatchID)
	if batch.RowsBad != int64(len(want)) || !strings.Contains(batch.Report, "校验位") || strings.Contains(batch.Report, "110199") {
		t.Errorf("stored report: bad %d, %q (must name rows, never numbers)", batch.RowsBad, batch.Report)
	}
}

func TestImportRefusesUnreadableFiles(t *testing.T) {
	s, _, _ := newService(t)
	for name, file := range map[string]string{"empty": "", "no id column": "工会编码,姓名\nU1,张\n"} {
		if _, err := s.Roster(context.Background(), name, strings.NewReader(file), asActor("staff")); errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("%s: err = %v, want Invalid", name, err)
		} else if name == "no id column" && !strings.Contains(err.Error(), "身份证号") {
			t.Errorf("%s: %v does not name the missing column", name, err)
		}
	}
}

// TestTemplateRoundTrip fills the XLSX template as staff would and imports it; the roster also
// imports from GBK, as Excel in China saves CSV.
func TestTemplateRoundTrip(t *testing.T) {
	s, _, _ := newService(t)
	b, err := Template(model.ImportRoster)
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	sheet := f.GetSheetList()[0]
	if err := f.SetSheetRow(sheet, "A3", &[]any{"DEMO001", "示例工会", "", "赵四", idB}); err != nil {
		t.Fatal(err)
	}
	var filled bytes.Buffer
	if err := f.Write(&filled); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Roster(context.Background(), "template.xlsx", &filled, asActor("staff"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 2 || rep.Bad != 0 {
		t.Errorf("template import = %+v (the example row and the filled row)", rep)
	}
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String(roster("DEMO001,,钱五," + idC + ",,,,,,,,,,,"))
	rep, err = s.Roster(context.Background(), "gbk.csv", strings.NewReader(gbk), asActor("staff"))
	if err != nil || rep.Added != 1 {
		t.Errorf("GBK import = %+v, %v", rep, err)
	}
	if _, err := Template(model.ImportBankResult); err == nil {
		t.Error("Template(bank_result) = nil error")
	}
}

const medicalHeader = "结算单号,社保卡号,身份证号,类别,就诊日期,出院日期,医院,医疗费总额,统筹支付,自付一,自付二,自费,超封顶线自付一,重大疾病\n"

func TestMedicalImport(t *testing.T) {
	s, db, _ := newService(t)
	if _, err := s.Roster(context.Background(), "r.csv", strings.NewReader(roster(
		"U001,示例工会,张一,"+idA+",900000000001,6217990000000001,,,,,,,,,",
		"U001,,王二,"+idB+",,,,,,,,,,,",
	)), asActor("staff")); err != nil {
		t.Fatal(err)
	}
	file := medicalHeader + strings.Join([]string{
		"JS1,900000000001,,门诊,2026-03-14,,示例医院,1000.00,600.00,300.00,50.00,50.00,0,否",  // 2 good, by social card
		"JS2,," + idB + ",特病住院,2026-04-01,2026-04-20,示例医院,9000,1000,8000,0,0,570000,是", // 3 good, by ID
		"JS3,900000000999,,门诊,2026-03-14,,,100,0,100,0,0,,",                            // 4 unknown member
		"JS4,900000000001,,门诊,2026-03-14,,,100,0,-5,0,0,,",                             // 5 negative
		"JS5,900000000001,,门诊,2007-12-31,,,100,0,100,0,0,,",                            // 6 before the plan
		"JS6,900000000001,,门诊,2026-12-01,,,100,0,100,0,0,,",                            // 7 future
		"JS7,900000000001,,牙科,2026-03-14,,,100,0,100,0,0,,",                            // 8 claim type
		"JS1,900000000001,,门诊,2026-03-14,,示例医院,1000.00,600.00,300.00,50.00,50.00,0,否",  // 9 duplicate
		"JS8,900000000001,,门诊,2026-03-14,,,100,0,100,50,0,,",                           // 10 total too small
		"JS9,900000000001,,门诊,2026-03-14,,,100.001,0,100,0,0,,",                        // 11 three decimals
	}, "\n") + "\n"
	rep, err := s.Medical(context.Background(), "yb.csv", strings.NewReader(file), asActor("staff"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{
		4:  "社保卡号：花名册中没有这名职工（按社保卡号和身份证号都没有找到），请先导入花名册",
		5:  "自付一：金额不能是负数",
		6:  "就诊日期：就诊日期 2007-12-31 不在本计划的时间范围内（2008-01-01 至今天）",
		7:  "就诊日期：就诊日期 2026-12-01 不在本计划的时间范围内（2008-01-01 至今天）",
		8:  "类别：类别“牙科”无法识别，应为门诊、普通住院或特病住院",
		9:  "结算单号：结算单号与第 2 行重复，本行未导入",
		10: "医疗费总额：医疗费总额 100.00 元小于自付一、自付二、自费之和 150.00 元",
		11: "医疗费总额：金额“100.001”无法识别，应写成元，最多两位小数，例如 1234.56",
	}
	got := problems(rep)
	for row, msg := range want {
		if got[row] != msg {
			t.Errorf("row %d: got %q, want %q", row, got[row], msg)
		}
	}
	if len(got) != len(want) || rep.Added != 2 {
		t.Errorf("report = %+v", rep)
	}
	for i := 1; i < len(rep.Problems); i++ {
		if rep.Problems[i-1].Row > rep.Problems[i].Row {
			t.Errorf("problems out of row order (batches apply in parallel): %+v", rep.Problems)
			break
		}
	}
	var r model.MedicalRecord
	db.Where("record_no = ?", "JS2").Take(&r)
	if r.AboveCapFen != 57000000 || !r.MajorDisease || r.ClaimType != model.ClaimSpecialInpatient || r.SelfPay1Fen != 800000 {
		t.Errorf("JS2 = %+v", r)
	}

	good := medicalHeader + "JS1,900000000001,,门诊,2026-03-14,,示例医院,1000.00,600.00,300.00,50.00,50.00,0,否\n" +
		"JS2,," + idB + ",特病住院,2026-04-01,2026-04-20,示例医院,9000,1000,8000,0,0,570000,是\n"
	if rep, err := s.Medical(context.Background(), "again.csv", strings.NewReader(good), asActor("staff")); err != nil || rep.Same != 2 {
		t.Errorf("re-import = %+v, %v; want 2 unchanged", rep, err)
	}
	db.Model(&model.MedicalRecord{}).Where("record_no = ?", "JS2").Update("settlement_run_id", 7)
	changed := strings.Replace(strings.Replace(good, "300.00", "310.00", 1), "8000,0,0", "8100,0,0", 1)
	changed = strings.Replace(changed, "1000.00,600.00", "1010.00,600.00", 1)
	rep, err = s.Medical(context.Background(), "changed.csv", strings.NewReader(strings.Replace(changed, ",9000,", ",9100,", 1)), asActor("staff"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Updated != 1 || problems(rep)[3] != "结算单号：这条记录已经结算，内容与导入的不同，未修改；如需更正请联系办事处" {
		t.Errorf("changed import = %+v; want JS1 updated and the settled JS2 refused", rep)
	}
	var js1 model.MedicalRecord
	db.Where("record_no = ?", "JS1").Take(&js1)
	if js1.SelfPay1Fen != 31000 {
		t.Errorf("JS1 自付一 = %s, want the corrected 310.00", js1.SelfPay1Fen)
	}
}

func TestReportCSV(t *testing.T) {
	rep := Report{Problems: []Problem{{Row: 3, Column: "身份证号", Message: "校验位不对"}}}
	if got := string(rep.CSV()); got != "\ufeff\"行号\",\"列\",\"问题\"\n\"3\",\"身份证号\",\"校验位不对\"\n" {
		t.Errorf("CSV = %q", got)
	}
}
