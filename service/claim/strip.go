package claim

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errBadImage means an image's structure is broken: a marker or chunk where none can be.
var errBadImage = errors.New("damaged image")

type byteReader interface {
	io.Reader
	io.ByteReader
}

// stripJPEG copies a JPEG from r to w without its metadata segments: APP1 (EXIF with GPS and the
// camera's serial, XMP), APP13 (IPTC) and comments. It follows the segment structure through
// every scan (progressive JPEGs have several) and stops at the end-of-image marker, so data
// appended after the image (a phone's "motion photo" video, thumbnails) is dropped too. The
// image data itself is copied byte for byte.
func stripJPEG(w io.Writer, r byteReader) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	soi := make([]byte, 2)
	if _, err := io.ReadFull(r, soi); err != nil || soi[0] != 0xFF || soi[1] != 0xD8 {
		return errBadImage
	}
	bw.Write(soi)
	marker, err := nextMarker(r)
	for {
		if err != nil {
			return err
		}
		switch {
		case marker == 0xD9: // end of image
			bw.Write([]byte{0xFF, 0xD9})
			return bw.Flush()
		case marker == 0xD8 || marker == 0x00:
			return errBadImage
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7): // no length
			bw.Write([]byte{0xFF, marker})
			marker, err = nextMarker(r)
			continue
		}
		var lb [2]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return errBadImage
		}
		n := int64(binary.BigEndian.Uint16(lb[:]))
		if n < 2 {
			return errBadImage
		}
		if marker == 0xE1 || marker == 0xED || marker == 0xFE {
			if _, err := io.CopyN(io.Discard, r, n-2); err != nil {
				return errBadImage
			}
			marker, err = nextMarker(r)
			continue
		}
		bw.Write([]byte{0xFF, marker, lb[0], lb[1]})
		if _, err := io.CopyN(bw, r, n-2); err != nil {
			return wrapShort(err)
		}
		if marker != 0xDA {
			marker, err = nextMarker(r)
			continue
		}
		// Start of scan: entropy-coded data follows up to the next marker that is not a stuffed
		// 0xFF00, a restart marker or fill.
		marker, err = copyScan(bw, r)
	}
}

// nextMarker reads a marker (0xFF, any fill 0xFF, the code) and returns the code.
func nextMarker(r io.ByteReader) (byte, error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, wrapShort(err)
	}
	if b != 0xFF {
		return 0, errBadImage
	}
	for b == 0xFF {
		if b, err = r.ReadByte(); err != nil {
			return 0, wrapShort(err)
		}
	}
	return b, nil
}

// copyScan copies entropy-coded data and returns the code of the marker that ends it.
func copyScan(w *bufio.Writer, r io.ByteReader) (byte, error) {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return 0, wrapShort(err)
		}
		if b != 0xFF {
			w.WriteByte(b)
			continue
		}
		c, err := r.ReadByte()
		for err == nil && c == 0xFF {
			c, err = r.ReadByte()
		}
		if err != nil {
			return 0, wrapShort(err)
		}
		if c == 0x00 || (c >= 0xD0 && c <= 0xD7) {
			w.WriteByte(0xFF)
			w.WriteByte(c)
			continue
		}
		return c, nil
	}
}

func wrapShort(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errBadImage
	}
	return err
}

// pngDropped are the PNG chunks that carry metadata rather than the image: EXIF, text (authors,
// software, sometimes locations) and the modification time.
var pngDropped = map[string]bool{"eXIf": true, "tEXt": true, "zTXt": true, "iTXt": true, "tIME": true}

// stripPNG copies a PNG without its metadata chunks, up to and including IEND (anything appended
// after the image is dropped).
func stripPNG(w io.Writer, r io.Reader) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	sig := make([]byte, 8)
	if _, err := io.ReadFull(r, sig); err != nil || string(sig) != "\x89PNG\r\n\x1a\n" {
		return errBadImage
	}
	bw.Write(sig)
	for first := true; ; first = false {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return wrapShort(err)
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:])
		if n > 1<<31-1 || (first && typ != "IHDR") {
			return errBadImage
		}
		for _, c := range typ {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return fmt.Errorf("%w: chunk type", errBadImage)
			}
		}
		if pngDropped[typ] {
			if _, err := io.CopyN(io.Discard, r, n+4); err != nil {
				return wrapShort(err)
			}
			continue
		}
		bw.Write(hdr[:])
		if _, err := io.CopyN(bw, r, n+4); err != nil {
			return wrapShort(err)
		}
		if typ == "IEND" {
			return bw.Flush()
		}
	}
}
