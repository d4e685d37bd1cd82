package csvfile

import (
	"bufio"
	"bytes"
	"io"
)

// peekReader lets Read look at the first line to choose the separator.
type peekReader struct {
	*bufio.Reader
	first []byte
}

func newPeekReader(in io.Reader) *peekReader {
	br := bufio.NewReaderSize(in, 64<<10)
	p := &peekReader{Reader: br}
	b, _ := br.Peek(4 << 10)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	p.first = b
	return p
}

func (p *peekReader) firstLineHas(c byte) bool { return bytes.IndexByte(p.first, c) >= 0 }
