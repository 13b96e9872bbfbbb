package sheet

import (
	"fmt"

	"huzhu/service/errs"
)

// Limits bound the memory and time one file can take, whatever it claims about itself. A file
// beyond a limit is refused with an Invalid error (code import.limit) that says which limit it
// broke and how to fix the file; nothing is decompressed or parsed past the limit.
type Limits struct {
	MaxRows      int   // data rows of a CSV or the XLSX sheet (the header is not counted)
	MaxCellBytes int   // bytes of one cell after decoding: a longer cell is a row problem
	MaxLineBytes int64 // bytes of one CSV record (all its fields and quoted line breaks)

	MaxXLSXBytes        int64 // size of an XLSX file as uploaded (it is read into memory whole)
	MaxXLSXParts        int   // files inside the XLSX zip
	MaxUnzippedBytes    int64 // sum of the declared sizes of the parts
	MaxSheetXMLBytes    int64 // one worksheet, unzipped (streamed from a temporary file)
	MaxSharedXMLBytes   int64 // the shared string table, unzipped
	MaxOtherPartBytes   int64 // any other part (styles, workbook, pictures), unzipped: these are held in memory
	MaxInMemoryBytes    int64 // all the parts excelize holds in memory, unzipped
	MaxOtherXMLElements int   // elements of the XML parts excelize parses whole at once (styles, calcChain, workbook…)
	MaxSharedStrings    int   // entries in the shared string table (excelize indexes every one)
	MaxXMLElementBytes  int64 // one cell (<c>) or shared string (<si>) in the XML, markup included
	MaxRowCells         int   // cells (<c>) in one row of the XML
	MaxXMLTagBytes      int64 // one XML tag with its attributes, or a comment
	XMLInMemoryBytes    int64 // worksheet and shared-string parts above this go to a temporary file (excelize UnzipXMLSizeLimit)
}

// DefaultLimits are the limits of every upload; README.md states them for staff.
//
// Why these numbers: a CSV streams, so its rows may be many (the 1,000,000-record 医保 import is
// half the cap) while one record never needs more than a few hundred bytes. An XLSX is read
// whole, and excelize keeps an index entry for every shared string, so it gets a size and a
// string count that fit a roster of some 200,000 members in about 100 MB; larger tables go as
// CSV. Cells in these files are names, numbers and dates: 32 KiB is Excel's own 32,767
// characters' worth and still far beyond any real cell.
func DefaultLimits() Limits {
	return Limits{
		MaxRows:      2_000_000,
		MaxCellBytes: 32 << 10,
		MaxLineBytes: 64 << 10,

		MaxXLSXBytes:        32 << 20,
		MaxXLSXParts:        1000,
		MaxUnzippedBytes:    512 << 20,
		MaxSheetXMLBytes:    256 << 20,
		MaxSharedXMLBytes:   64 << 20,
		MaxOtherPartBytes:   4 << 20,
		MaxInMemoryBytes:    16 << 20,
		MaxOtherXMLElements: 100_000,
		MaxSharedStrings:    500_000,
		MaxXMLElementBytes:  256 << 10,
		MaxRowCells:         16384,
		MaxXMLTagBytes:      64 << 10,
		XMLInMemoryBytes:    1 << 20,
	}
}

// limitError is the Invalid error of a broken limit: what is too large and how to fix it.
func limitError(fix, format string, args ...any) error {
	e := errs.Invalidf("file", fix, format, args...)
	e.Code = "import.limit"
	return e
}

// mb shows a byte count to staff.
func mb(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d 字节", n)
}
