package claim

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 90, 255})
		}
	}
	return img
}

// jpegWithMetadata returns a JPEG with an EXIF segment (a GPS position and a serial number), an
// XMP segment, a comment, and a video appended after the image, as phones write them.
func jpegWithMetadata(t *testing.T) (withMeta, plain []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	plain = buf.Bytes()
	seg := func(marker byte, body string) []byte {
		b := []byte{0xFF, marker, 0, 0}
		binary.BigEndian.PutUint16(b[2:], uint16(len(body)+2))
		return append(b, body...)
	}
	var out []byte
	out = append(out, plain[:2]...)
	out = append(out, seg(0xE1, "Exif\x00\x00GPS 39.9042N 116.4074E serial SN-PHONE-42")...)
	out = append(out, seg(0xE1, "http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>GPS 39.9042N</x:xmpmeta>")...)
	out = append(out, 0xFF, 0xFF) // fill bytes before a marker are allowed
	out = append(out, seg(0xFE, "taken at 39.9042N")...)
	out = append(out, plain[2:]...)
	out = append(out, []byte("ftypmp42 MOTION PHOTO VIDEO 39.9042N")...)
	return out, plain
}

func TestStripJPEG(t *testing.T) {
	in, plain := jpegWithMetadata(t)
	var out bytes.Buffer
	if err := stripJPEG(&out, bufio.NewReader(bytes.NewReader(in))); err != nil {
		t.Fatalf("stripJPEG: %v", err)
	}
	for _, leak := range []string{"39.9042", "SN-PHONE", "Exif", "xmpmeta", "MOTION"} {
		if bytes.Contains(out.Bytes(), []byte(leak)) {
			t.Errorf("stripped JPEG still holds %q", leak)
		}
	}
	if !bytes.Equal(out.Bytes(), plain) {
		t.Errorf("stripped JPEG is %d bytes, want exactly the %d bytes of the image without metadata", out.Len(), len(plain))
	}
	if _, err := jpeg.Decode(bytes.NewReader(out.Bytes())); err != nil {
		t.Errorf("stripped JPEG does not decode: %v", err)
	}
	for _, bad := range []struct {
		name string
		b    []byte
	}{
		{"cut in the middle", in[:len(in)/2]},
		{"cut in a segment header", in[:5]},
		{"not a marker after SOI", append([]byte{0xFF, 0xD8, 0x12}, in[3:]...)},
	} {
		if err := stripJPEG(&bytes.Buffer{}, bufio.NewReader(bytes.NewReader(bad.b))); !errors.Is(err, errBadImage) {
			t.Errorf("%s: stripJPEG = %v, want errBadImage", bad.name, err)
		}
	}
}

func pngChunk(typ string, data []byte) []byte {
	b := make([]byte, 8, 12+len(data))
	binary.BigEndian.PutUint32(b, uint32(len(data)))
	copy(b[4:], typ)
	b = append(b, data...)
	crc := crc32.ChecksumIEEE(b[4:])
	return binary.BigEndian.AppendUint32(b, crc)
}

func TestStripPNG(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage()); err != nil {
		t.Fatal(err)
	}
	plain := buf.Bytes()
	ihdrEnd := 8 + 12 + 13
	var in []byte
	in = append(in, plain[:ihdrEnd]...)
	in = append(in, pngChunk("tEXt", []byte("Location\x0039.9042N"))...)
	in = append(in, pngChunk("eXIf", []byte("MM\x00*GPS 39.9042N"))...)
	in = append(in, plain[ihdrEnd:]...)
	in = append(in, "trailing 39.9042N"...)
	var out bytes.Buffer
	if err := stripPNG(&out, bytes.NewReader(in)); err != nil {
		t.Fatalf("stripPNG: %v", err)
	}
	if bytes.Contains(out.Bytes(), []byte("39.9042")) {
		t.Error("stripped PNG still holds the location")
	}
	if !bytes.Equal(out.Bytes(), plain) {
		t.Errorf("stripped PNG is %d bytes, want the %d of the image alone", out.Len(), len(plain))
	}
	if err := stripPNG(&bytes.Buffer{}, bytes.NewReader(in[:len(in)/2])); !errors.Is(err, errBadImage) {
		t.Errorf("cut PNG: %v, want errBadImage", err)
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		head string
		want string
	}{
		{"\xFF\xD8\xFF\xE0", MIMEJPEG}, {"\x89PNG\r\n\x1a\n", MIMEPNG}, {"%PDF-1.7", MIMEPDF},
		{"GIF89a", ""}, {"<html>", ""}, {"PK\x03\x04", ""}, {"", ""}, {"\xFF\xD8", ""},
	} {
		if got := sniff([]byte(tc.head)); got != tc.want {
			t.Errorf("sniff(%q) = %q, want %q", tc.head, got, tc.want)
		}
	}
}
