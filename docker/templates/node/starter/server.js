// Starter for __EXERCISE__: a server that answers GET /health. Build the rest from README.md.
const http = require("http");

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ status: "ok" }));
  } else {
    res.writeHead(404, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ error: "not found" }));
  }
});

// The database is at process.env.DATABASE_URL.
server.listen(Number(process.env.PORT || 8080), "0.0.0.0");
