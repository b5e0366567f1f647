// Reference solution of the url-shortener exercise: short links stored in PostgreSQL.
//
// The standard library's net/http serves each request on its own goroutine; the database
// does the rest: a UNIQUE code (the primary key) settles simultaneous creates, and one
// atomic UPDATE ... SET hits = hits + 1 counts each redirect without losing any.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/lib/pq"
)

const schema = `CREATE TABLE IF NOT EXISTS links (
	code       text PRIMARY KEY,
	url        text NOT NULL,
	hits       bigint NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now()
)`

const (
	alphabet   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	codeLength = 7
	maxURL     = 2048
)

var (
	customCode = regexp.MustCompile(`^[A-Za-z0-9_-]{3,32}$`)
	reserved   = map[string]bool{"health": true, "links": true}
)

type link struct {
	Code      string `json:"code"`
	URL       string `json:"url"`
	Hits      int64  `json:"hits"`
	CreatedAt string `json:"created_at"`
}

type server struct{ db *sql.DB }

func main() {
	db, err := openDB()
	if err != nil {
		log.Fatalf("could not connect to the database: %v", err)
	}
	s := &server{db: db}

	mux := http.NewServeMux()
	mux.HandleFunc("/health", s.health)
	mux.HandleFunc("/links", s.links)
	mux.HandleFunc("/links/", s.getLink)
	mux.HandleFunc("/", s.redirect)

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{
		Addr:              "0.0.0.0:" + port,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
	}
	// SIGTERM: stop accepting, let the requests in flight finish, then leave.
	stopped := make(chan struct{})
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		// Within the 5 s a supervisor gives before it kills, with room to spare.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(stopped)
	}()
	log.Printf("listening on %s", srv.Addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	<-stopped
	db.Close()
}

// openDB connects (retrying while PostgreSQL starts) and creates the table.
func openDB() (*sql.DB, error) {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		dsn = "postgres://postgres@localhost:5432/postgres"
	}
	if !strings.Contains(dsn, "sslmode=") {
		if strings.Contains(dsn, "?") {
			dsn += "&sslmode=disable"
		} else {
			dsn += "?sslmode=disable"
		}
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err = db.Exec(schema)
		if err == nil {
			return db, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		log.Printf("database not ready: %v", err)
		time.Sleep(500 * time.Millisecond)
	}
}

func (s *server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// POST /links
func (s *server) links(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "use POST to create a link")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeError(w, http.StatusBadRequest, "the body is too large")
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		writeError(w, http.StatusBadRequest, "the body must be a JSON object")
		return
	}
	var target string
	if raw, ok := fields["url"]; !ok || json.Unmarshal(raw, &target) != nil || string(raw) == "null" {
		writeError(w, http.StatusBadRequest, "url is required and must be a string")
		return
	}
	if msg := checkURL(target); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	custom := ""
	if raw, ok := fields["code"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &custom) != nil {
			writeError(w, http.StatusBadRequest, "code must be a string")
			return
		}
		if !customCode.MatchString(custom) {
			writeError(w, http.StatusBadRequest, "code must be 3 to 32 characters among A-Z, a-z, 0-9, _ and -")
			return
		}
		if reserved[custom] {
			writeError(w, http.StatusBadRequest, "this code is reserved")
			return
		}
	}

	for attempt := 0; ; attempt++ {
		code := custom
		if code == "" {
			code = newCode()
		}
		var created time.Time
		err := s.db.QueryRowContext(r.Context(),
			`INSERT INTO links (code, url) VALUES ($1, $2) RETURNING created_at`,
			code, target).Scan(&created)
		if isUniqueViolation(err) {
			if custom != "" {
				writeError(w, http.StatusConflict, "the code "+custom+" is already taken")
				return
			}
			if attempt < 5 {
				continue // a generated code collided: draw another
			}
		}
		if err != nil {
			serverError(w, err)
			return
		}
		w.Header().Set("Location", "/links/"+code)
		writeJSON(w, http.StatusCreated, link{Code: code, URL: target, Hits: 0, CreatedAt: timestamp(created)})
		return
	}
}

// GET /links/{code}
func (s *server) getLink(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "use GET to read a link")
		return
	}
	code := strings.TrimPrefix(r.URL.Path, "/links/")
	var l link
	var created time.Time
	err := s.db.QueryRowContext(r.Context(),
		`SELECT code, url, hits, created_at FROM links WHERE code = $1`, code).
		Scan(&l.Code, &l.URL, &l.Hits, &created)
	if errors.Is(err, sql.ErrNoRows) {
		writeError(w, http.StatusNotFound, "no link has the code "+code)
		return
	}
	if err != nil {
		serverError(w, err)
		return
	}
	l.CreatedAt = timestamp(created)
	writeJSON(w, http.StatusOK, l)
}

// GET /{code}: count the visit and redirect, in one statement.
func (s *server) redirect(w http.ResponseWriter, r *http.Request) {
	code := strings.TrimPrefix(r.URL.Path, "/")
	if code == "" || strings.Contains(code, "/") {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "use GET to follow a link")
		return
	}
	var target string
	err := s.db.QueryRowContext(r.Context(),
		`UPDATE links SET hits = hits + 1 WHERE code = $1 RETURNING url`, code).Scan(&target)
	if errors.Is(err, sql.ErrNoRows) {
		writeError(w, http.StatusNotFound, "no link has the code "+code)
		return
	}
	if err != nil {
		serverError(w, err)
		return
	}
	w.Header().Set("Location", target)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

// checkURL says what is wrong with a target URL, or "" when it is an absolute http(s) URL.
func checkURL(s string) string {
	if s == "" {
		return "url must not be empty"
	}
	if len(s) > maxURL {
		return "url must be at most 2048 characters"
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "url must not contain spaces or control characters"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "url is not a valid URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "url must be an absolute http:// or https:// URL"
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return "url must name a host"
	}
	return ""
}

// newCode draws 7 characters from [A-Za-z0-9] with crypto/rand (no modulo bias).
func newCode() string {
	out := make([]byte, 0, codeLength)
	buf := make([]byte, 16)
	for len(out) < codeLength {
		if _, err := rand.Read(buf); err != nil {
			panic(err)
		}
		for _, b := range buf {
			if b < 248 && len(out) < codeLength { // 248 = 4 * 62
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

func isUniqueViolation(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23505"
}

func timestamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func serverError(w http.ResponseWriter, err error) {
	log.Printf("error: %v", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}
