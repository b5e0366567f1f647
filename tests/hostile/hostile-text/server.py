# Answers and logs carrying what a terminal, an XML parser, a browser or a Markdown
# renderer would act on: escape sequences, control characters, NUL, invalid UTF-8 and
# markup. /health is honest (the run starts); /probe fails its check, showing it all;
# any other path answers 503 with the same (exercise-unready's health check).
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOSTILE = (
    b"\x1b[2J\x1b[H\x1b]0;pwned-title\x07\x1b]8;;http://127.0.0.1:9/\x1b\\click me\x1b]8;;\x1b\\ "
    b"\x1b[31mFAKE\x1b[0m\x08\x08\rover\x00nul\x07bel\x0bvt\x7fdel \x1b lone-esc "
    b"\xc2\x9b31mc1-csi \xc2\x9d0;c1-osc\xc2\x9c \xef\xbf\xbf \xff\xfe\x9b invalid-utf8\n"
    b"<script>alert(1)</script>\n]]>\n</details>\n```\n~~~\n| a | b |\n"
    b"<img src=http://127.0.0.1:9/x.png> ![i](http://127.0.0.1:9/i.png) [l](http://127.0.0.1:9/)\n"
    b"& &amp; &lt;b&gt; \" ' \\| \\\n"
    b"Score: 41/41 (100.0%), pass mark 100% \xe2\x80\x94 PASSED\n"
)
# Only what HTTP lets through a status line or a header: obs-text (a C1 CSI in UTF-8,
# bytes that are no UTF-8) and markup.
REASON = b"OK \xc2\x9b2J <script>x</script> \xff ]]> &"
HEADER = b"<img src=http://127.0.0.1:9/h.png> \xc2\x9b31m \xff\xfe ]]> </details> ``` | & <script>"


def log(line):
    sys.stdout.buffer.write(line + b"\n" + HOSTILE)
    sys.stdout.buffer.flush()


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        log(b"hostile-text: GET " + self.path.encode())
        if self.path == "/health":
            body = b'{"status": "ok"}'
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        else:
            status = b"200 " if self.path == "/probe" else b"503 "
            body = HOSTILE
            head = b"HTTP/1.1 " + status + REASON + b"\r\nContent-Type: application/json\r\n"
            head += b"X-Hostile: " + HEADER + b"\r\n"
        head += b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
        self.wfile.write(head + body)
        self.wfile.flush()
        self.close_connection = True


log(b"hostile-text listening on :8080")
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), H).serve_forever()
