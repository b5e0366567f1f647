# Starter for __EXERCISE__: a server that answers GET /health. Build the rest from README.md.
require "socket"
require "json"

server = TCPServer.new("0.0.0.0", Integer(ENV.fetch("PORT", "8080")))
loop do
  Thread.start(server.accept) do |client|
    request_line = client.gets.to_s
    while (line = client.gets) && line != "\r\n"; end
    method, path = request_line.split(" ")
    status, body = method == "GET" && path == "/health" ? [200, { status: "ok" }] : [404, { error: "not found" }]
    text = body.to_json
    client.write("HTTP/1.1 #{status} #{status == 200 ? 'OK' : 'Not Found'}\r\nContent-Type: application/json\r\n" \
                 "Content-Length: #{text.bytesize}\r\nConnection: close\r\n\r\n#{text}")
    client.close
  end
end
# The database is at ENV["DATABASE_URL"] (ruby-pg is installed: require "pg").
