package oauth

import (
	"errors"
	"net/url"
	"strings"
)

// NormalizeHTU reduces an http or https URL to what RFC 9449 §4.3 compares for htu: scheme,
// host, port and path, without query and fragment. It applies the syntax-based normalisation
// of RFC 3986 §6.2.2 (case of scheme and host, percent-encoding, dot segments) and the
// scheme-based one of §6.2.3 (default port, empty path as "/").
func NormalizeHTU(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("htu: not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", errors.New("htu: not an http or https URL")
	}
	if u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", errors.New("htu: not an absolute URL with a host and no user info")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", errors.New("htu: empty host")
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" {
		if port = strings.TrimLeft(port, "0"); port == "" {
			port = "0"
		}
		if !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
			host += ":" + port
		}
	}
	p, err := normalizePercent(u.EscapedPath())
	if err != nil {
		return "", err
	}
	p = removeDotSegments(p)
	if p == "" {
		p = "/"
	}
	return scheme + "://" + host + p, nil
}

const upperHex = "0123456789ABCDEF"

// normalizePercent decodes percent-encoded unreserved characters and upper-cases the hex
// digits of the others (RFC 3986 §6.2.2.1, §6.2.2.2).
func normalizePercent(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", errors.New("htu: bad percent-encoding")
		}
		c := byte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		if unreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// unreserved is RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is the algorithm of RFC 3986 §5.2.4.
func removeDotSegments(in string) string {
	var out []string
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		default:
			// Move the first segment, with its leading "/" if any, to the output.
			end := strings.IndexByte(in[1:], '/')
			if end < 0 {
				end = len(in)
			} else {
				end++
			}
			out = append(out, in[:end])
			in = in[end:]
		}
	}
	return strings.Join(out, "")
}
