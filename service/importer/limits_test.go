package importer

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/sheet"
)

// bombTime bounds how long refusing one bomb may take on a loaded machine (each takes well under
// a second on an idle one, see the test log).
const bombTime = 10 * time.Second * raceSlowdown

// bombRSS bounds how much the process's resident memory may grow while a bomb is refused.
const bombRSS = 100 << 20

// TestUploadBombsAreRefused feeds the importer files that claim or hold far more than they
// weigh: each must be refused with an Invalid error (code import.limit) naming the limit in
// Chinese, within bombTime, while the process's peak RSS grows by less than bombRSS. On the old
// code the 1 GiB shared string took RSS past 6 GB and the 20 million shared strings past 2 GB.
func TestUploadBombsAreRefused(t *testing.T) {
	s, db, _ := newService(t)
	for _, tc := range []struct {
		name string
		file func(t *testing.T) io.Reader
		want string // in the error message
	}{
		{"xlsx: one shared string of 1 GiB", func(t *testing.T) io.Reader {
			return bytes.NewReader(xlsxWithSharedStrings(t, []byte("<si><t>"), []byte("a"), 1<<30, []byte("</t></si>")))
		}, "共享字符串表解压后"},
		{"xlsx: 20 million tiny shared strings", func(t *testing.T) io.Reader {
			return bytes.NewReader(xlsxWithSharedStrings(t, nil, []byte("<si><t>a</t></si>"), 20_000_000, nil))
		}, "共享字符串表解压后"},
		{"xlsx: 2 million empty shared strings within the size limit", func(t *testing.T) io.Reader {
			return bytes.NewReader(xlsxWithSharedStrings(t, nil, []byte("<si/>"), 2_000_000, nil))
		}, "共享字符串表超过 500000 条"},
		{"xlsx: one shared string of 60 MB within the size limit", func(t *testing.T) io.Reader {
			return bytes.NewReader(xlsxWithSharedStrings(t, []byte("<si><t>"), []byte("a"), 60<<20, []byte("</t></si>")))
		}, "字符串超过"},
		{"xlsx: 800,000 styles in 4 MB", func(t *testing.T) io.Reader {
			return bytes.NewReader(xlsxWith(t, bombPart{"xl/styles.xml",
				[]byte(`<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs>`),
				[]byte("<xf/>"), 800_000, []byte("</cellXfs></styleSheet>")}))
		}, "元素的上限"},
		{"xlsx: five pictures of 4 MB of zeros", func(t *testing.T) io.Reader {
			var parts []bombPart
			for i := range 5 {
				parts = append(parts, bombPart{name: fmt.Sprintf("xl/media/image%d.png", i+1), unit: []byte{0}, n: 4 << 20})
			}
			return bytes.NewReader(xlsxWith(t, parts...))
		}, "部件解压后共超过 16 MB"},
		{"csv: one line of 1 GiB", func(*testing.T) io.Reader {
			return &repeatReader{prefix: []byte(rosterHeader + "U001,工会,"), unit: []byte("a"), n: 1 << 30}
		}, "一行超过 64 KB"},
		{"csv: an open quote swallowing 1 GiB of lines", func(*testing.T) io.Reader {
			return &repeatReader{prefix: []byte(rosterHeader + "U001,工会,\""), unit: []byte("a,b\n"), n: 1 << 28}
		}, "一行超过 64 KB"},
		{"csv: 2,000,001 rows", func(*testing.T) io.Reader {
			return &repeatReader{prefix: []byte(rosterHeader), unit: []byte(",\n"), n: 2_000_001}
		}, "文件超过 2000000 行数据的上限"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := tc.file(t)
			var err error
			start := time.Now()
			grew := peakRSSGrowth(t, func() { _, err = s.Roster(context.Background(), "bomb", file, asActor("staff")) })
			took := time.Since(start)
			e, ok := errs.As(err)
			if !ok || e.Kind != errs.KindInvalid || e.Code != "import.limit" || !strings.Contains(e.Message, tc.want) || e.Fix == "" {
				t.Fatalf("Roster(bomb) err = %v, want an Invalid import.limit error saying %q with a fix", err, tc.want)
			}
			if took > bombTime {
				t.Errorf("refusing took %v, want under %v", took, bombTime)
			}
			if grew > bombRSS {
				t.Errorf("peak RSS grew by %d MB while refusing, want under %d MB", grew>>20, bombRSS>>20)
			}
			t.Logf("refused in %v, peak RSS +%d MB: %s（%s）", took.Round(time.Millisecond), grew>>20, e.Message, e.Fix)
		})
	}
	var n int64
	db.Model(&model.Member{}).Count(&n)
	if n != 0 {
		t.Errorf("%d members stored from bombs", n)
	}
}

// TestLimitsKeepLargeFilesWorking imports files with long cells and many shared strings, inside
// the limits.
func TestLimitsKeepLargeFilesWorking(t *testing.T) {
	s, _, _ := newService(t)
	long := strings.Repeat("院", 120) // a long hospital-like name in the union name column, well within the caps
	file := roster("U001,"+long+",张一,"+idA+",,,,,,,,,,,", "U001,,王二,"+idB+",,,,,,,,,,,")
	rep, err := s.Roster(context.Background(), "ok.csv", strings.NewReader(file), asActor("staff"))
	if err != nil || rep.Added != 2 {
		t.Fatalf("Roster(long cells) = %+v, %v; want 2 added", rep, err)
	}
	x := excelize.NewFile()
	defer x.Close()
	if err := x.SetSheetRow("Sheet1", "A1", &[]any{"工会编码", "工会名称", "姓名", "身份证号"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3000 { // 3,000 distinct shared strings in column B
		if err := x.SetCellStr("Sheet1", "B"+strconv.Itoa(i+2), "备注"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.SetSheetRow("Sheet1", "A3002", &[]any{"U001", "", "赵四", idC}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := x.Write(&b); err != nil {
		t.Fatal(err)
	}
	rep, err = s.Roster(context.Background(), "big.xlsx", &b, asActor("staff"))
	if err != nil || rep.Added != 1 {
		t.Fatalf("Roster(xlsx with 3,000 shared strings) = added %d bad %d, %v; want 1 added", rep.Added, rep.Bad, err)
	}
}

// TestLimitsWorstCaseMemory measures the peak RSS of XLSX files just inside the limits on what
// excelize holds, the most memory a file that is not refused can ask for (run one case at a
// time, so that one case's heap does not hide the next one's growth):
// HUZHU_LIMITS_BENCH=1 go test -run 'TestLimitsWorstCaseMemory/styles' -v ./service/importer/
func TestLimitsWorstCaseMemory(t *testing.T) {
	if os.Getenv("HUZHU_LIMITS_BENCH") == "" {
		t.Skip("set HUZHU_LIMITS_BENCH=1 to measure")
	}
	s, _, _ := newService(t)
	lim := sheet.DefaultLimits()
	styles := []byte(`<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs>`)
	for _, tc := range []struct {
		name string
		part bombPart
	}{
		{"shared strings held in memory (below XMLInMemoryBytes)", bombPart{"xl/sharedStrings.xml", nil, []byte("<si/>"), int(lim.XMLInMemoryBytes)/5 - 100, nil}},
		{"shared strings indexed from a temporary file", bombPart{"xl/sharedStrings.xml", nil, []byte("<si><t>x</t></si>"), lim.MaxSharedStrings - 10, nil}},
		{"styles", bombPart{"xl/styles.xml", styles, []byte("<xf/>"), lim.MaxOtherXMLElements - 1000, []byte("</cellXfs></styleSheet>")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := xlsxWith(t, tc.part)
			var (
				rep Report
				err error
			)
			start := time.Now()
			grew := peakRSSGrowth(t, func() { rep, err = s.Roster(context.Background(), "big.xlsx", bytes.NewReader(file), asActor("staff")) })
			if err != nil || rep.Added+rep.Same != 1 {
				t.Fatalf("Roster = %+v, %v", rep, err)
			}
			t.Logf("%d × %s (%d KB file): %v, peak RSS +%d MB", tc.part.n, tc.part.unit, len(file)>>10, time.Since(start).Round(time.Millisecond), grew>>20)
		})
	}
}

// peakRSSGrowth runs f and returns how far the process's peak resident set (VmHWM) rose above
// its resident set before f. It resets the peak first (clear_refs 5, Linux 4.0+); where that is
// not possible it samples the Go heap instead.
func peakRSSGrowth(t *testing.T, f func()) uint64 {
	t.Helper()
	debug.FreeOSMemory() // so that memory a previous test left to the runtime does not hide growth
	if os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil {
		before := procStatus(t, "VmRSS")
		f()
		if peak := procStatus(t, "VmHWM"); peak > before {
			return peak - before
		}
		return 0
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak - base
}

// procStatus returns a kB field of /proc/self/status in bytes.
func procStatus(t *testing.T, field string) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// repeatReader streams prefix and then unit n times, without holding the whole.
type repeatReader struct {
	prefix, unit []byte
	n            int
	buf          []byte
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		switch {
		case r.prefix != nil:
			r.buf, r.prefix = r.prefix, nil
		case r.n > 0:
			k := min(r.n, max(1, (64<<10)/len(r.unit)))
			r.buf, r.n = bytes.Repeat(r.unit, k), r.n-k
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// xlsxWithSharedStrings returns a roster XLSX made by excelize whose shared string table gets
// unit repeated n times after its own strings (inside open and close).
func xlsxWithSharedStrings(t *testing.T, open, unit []byte, n int, close []byte) []byte {
	t.Helper()
	return xlsxWith(t, bombPart{"xl/sharedStrings.xml", open, unit, n, close})
}

// bombPart is a part of a zip: open, unit repeated n times, close. For xl/sharedStrings.xml it
// goes inside the table excelize wrote.
type bombPart struct {
	name       string
	open, unit []byte
	n          int
	close      []byte
}

// xlsxWith returns a one-row roster XLSX made by excelize with parts replaced or added, each
// deflated by hand with back-references so that it is built in well under a second whatever
// size it inflates to.
func xlsxWith(t *testing.T, parts ...bombPart) []byte {
	t.Helper()
	x := excelize.NewFile()
	defer x.Close()
	if err := x.SetSheetRow("Sheet1", "A1", &[]any{"工会编码", "工会名称", "姓名", "身份证号"}); err != nil {
		t.Fatal(err)
	}
	if err := x.SetSheetRow("Sheet1", "A2", &[]any{"U001", "示例工会", "张一", idA}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := x.Write(&b); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	write := func(p bombPart) {
		body, crc, size := deflateRepeat(p.open, p.unit, p.n, p.close)
		w, err := zw.CreateRaw(&zip.FileHeader{Name: p.name, Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(len(body)), UncompressedSize64: size})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	replaced := map[string]bool{}
	for _, f := range zr.File {
		i := slices.IndexFunc(parts, func(p bombPart) bool { return p.name == f.Name })
		if i < 0 {
			if err := zw.Copy(f); err != nil {
				t.Fatal(err)
			}
			continue
		}
		p := parts[i]
		if f.Name == "xl/sharedStrings.xml" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			sst, err := io.ReadAll(rc)
			rc.Close()
			end := bytes.LastIndex(sst, []byte("</sst>"))
			if err != nil || end < 0 {
				t.Fatalf("shared strings %q, %v", sst, err)
			}
			p.open = append(append([]byte(nil), sst[:end]...), p.open...)
			p.close = append(append([]byte(nil), p.close...), "</sst>"...)
		}
		write(p)
		replaced[p.name] = true
	}
	for _, p := range parts {
		if !replaced[p.name] {
			write(p)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// deflateRepeat returns a raw DEFLATE stream (one block, fixed Huffman codes) of head, unit
// repeated n times, and tail, with its CRC-32 and size: unit once as literals, the rest as
// 258-byte copies at distance len(unit).
func deflateRepeat(head, unit []byte, n int, tail []byte) ([]byte, uint32, uint64) {
	var w bitWriter
	w.bits(1, 1) // BFINAL
	w.bits(1, 2) // BTYPE 01: fixed Huffman
	crc := crc32.Update(0, crc32.IEEETable, head)
	for _, c := range head {
		w.literal(int(c))
	}
	total := len(unit) * n
	for _, c := range unit {
		w.literal(int(c))
	}
	left := total - len(unit)
	pos := len(unit)
	for left >= 258 {
		w.copy258(len(unit))
		left -= 258
		pos += 258
	}
	for ; left > 0; left-- {
		w.literal(int(unit[pos%len(unit)]))
		pos++
	}
	chunk := bytes.Repeat(unit, max(1, (1<<20)/len(unit)))
	for done := 0; done < total; done += len(chunk) {
		crc = crc32.Update(crc, crc32.IEEETable, chunk[:min(len(chunk), total-done)])
	}
	crc = crc32.Update(crc, crc32.IEEETable, tail)
	for _, c := range tail {
		w.literal(int(c))
	}
	w.code(0, 7) // end of block: symbol 256
	return w.flush(), crc, uint64(len(head) + total + len(tail))
}

// bitWriter packs DEFLATE bits (RFC 1951: data elements LSB first, Huffman codes MSB first).
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// code writes a Huffman code of n bits, most significant bit first.
func (w *bitWriter) code(c uint64, n uint) {
	var r uint64
	for i := uint(0); i < n; i++ {
		r = r<<1 | (c>>i)&1
	}
	w.bits(r, n)
}

func (w *bitWriter) literal(c int) {
	if c < 144 {
		w.code(uint64(0x30+c), 8)
	} else {
		w.code(uint64(0x190+c-144), 9)
	}
}

// copy258 writes a back-reference of 258 bytes at distance d (1..32768).
func (w *bitWriter) copy258(d int) {
	w.code(0xc0+285-280, 8) // length symbol 285: 258, no extra bits
	code, base, extra := 0, 1, uint(0)
	for {
		extra = 0
		if code >= 4 {
			extra = uint(code/2 - 1)
		}
		if d < base+1<<extra {
			break
		}
		base += 1 << extra
		code++
	}
	w.code(uint64(code), 5)
	w.bits(uint64(d-base), extra)
}

func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc, w.nacc = 0, 0
	}
	return w.out
}

// TestDeflateRepeat checks the hand-made DEFLATE stream against archive/zip's reader.
func TestDeflateRepeat(t *testing.T) {
	for _, tc := range []struct {
		unit string
		n    int
	}{{"a", 1000}, {"<si><t>a</t></si>", 700}, {"<si/>", 3}} {
		body, crc, size := deflateRepeat([]byte("<h>"), []byte(tc.unit), tc.n, []byte("</h>"))
		var zb bytes.Buffer
		zw := zip.NewWriter(&zb)
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "x", Method: zip.Deflate, CRC32: crc, CompressedSize64: uint64(len(body)), UncompressedSize64: size})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(body)
		_ = zw.Close()
		zr, err := zip.NewReader(bytes.NewReader(zb.Bytes()), int64(zb.Len()))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := zr.File[0].Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if want := "<h>" + strings.Repeat(tc.unit, tc.n) + "</h>"; err != nil || string(got) != want {
			t.Errorf("deflateRepeat(%q×%d) inflates to %d bytes, %v; want %d bytes", tc.unit, tc.n, len(got), err, len(want))
		}
	}
}
