# Reference solution of the bank-ledger exercise: Ruby's standard library, WEBrick and
# ruby-pg.
#
# WEBrick serves each connection on its own thread. A PG::Connection must not be shared
# between threads, so each request borrows one from a small pool (a Queue) and gives it
# back when it answers. A transfer is one transaction: it locks both account rows in id
# order (SELECT ... FOR UPDATE), so two transfers never interleave on the same account
# and never wait on each other in a cycle; it then checks the idempotency key and the
# balance, moves the money and stores the transfer, and commits before it answers.

require 'json'
require 'pg'
require 'webrick'

$stdout.sync = true

SCHEMA = <<~SQL
  SET client_min_messages = warning;
  CREATE TABLE IF NOT EXISTS accounts (
      id         BIGSERIAL PRIMARY KEY,
      owner      TEXT NOT NULL,
      balance    BIGINT NOT NULL CHECK (balance >= 0),
      created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS transfers (
      id              BIGSERIAL PRIMARY KEY,
      from_id         BIGINT NOT NULL REFERENCES accounts (id),
      to_id           BIGINT NOT NULL REFERENCES accounts (id),
      amount          BIGINT NOT NULL CHECK (amount > 0),
      idempotency_key TEXT NOT NULL UNIQUE,
      created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE INDEX IF NOT EXISTS transfers_from_id ON transfers (from_id);
  CREATE INDEX IF NOT EXISTS transfers_to_id ON transfers (to_id);
SQL

MAX_CENTS = 1_000_000_000_000_000 # 10^15 cents: far below what a BIGINT holds
MAX_ID = 2**63 - 1
MAX_KEY = 255
POOL_SIZE = 10

TRANSFER_COLUMNS = <<~SQL.strip
  id, from_id, to_id, amount,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at
SQL

# An error answer: the status and a message for humans.
class HttpError < StandardError
  attr_reader :status

  def initialize(status, message)
    super(message)
    @status = status
  end
end

def connect(deadline)
  PG.connect(ENV.fetch('DATABASE_URL'))
rescue PG::ConnectionBad => e
  raise if Time.now > deadline

  puts "database not ready yet: #{e.message.strip}"
  sleep 0.5
  retry
end

# The database may still be starting: retry for up to 60 seconds.
def open_pool
  deadline = Time.now + 60
  first = connect(deadline)
  first.exec(SCHEMA)
  pool = Queue.new
  pool.push(first)
  (POOL_SIZE - 1).times { pool.push(connect(deadline)) }
  pool
end

POOL = open_pool

# Lends a connection for the block; a broken one is replaced on next use.
def with_conn
  conn = POOL.pop
  conn = PG.connect(ENV.fetch('DATABASE_URL')) if conn.nil? || conn.finished?
  yield conn
rescue PG::ConnectionBad, PG::UnableToSend => e
  conn&.close rescue nil
  conn = nil
  raise e
ensure
  if conn && conn.transaction_status != PG::PQTRANS_IDLE
    begin
      conn.exec('ROLLBACK')
    rescue PG::Error
      conn.close rescue nil
      conn = nil
    end
  end
  POOL.push(conn)
end

def cents?(value, min)
  value.is_a?(Integer) && value >= min && value <= MAX_CENTS
end

def parse_body(req)
  body = JSON.parse((req.body || '').dup.force_encoding('UTF-8'))
  raise HttpError.new(400, 'the body must be a JSON object') unless body.is_a?(Hash)

  body
rescue JSON::ParserError
  raise HttpError.new(400, 'the body is not valid JSON')
end

# Path ids: digits only; an id no BIGINT can hold names no account.
def path_id(text)
  id = Integer(text, 10)
  raise HttpError.new(404, "account #{text} does not exist") unless id.between?(1, MAX_ID)

  id
end

def account_json(row)
  { id: Integer(row['id']), owner: row['owner'], balance: Integer(row['balance']) }
end

def transfer_json(row)
  {
    id: Integer(row['id']),
    from: Integer(row['from_id']),
    to: Integer(row['to_id']),
    amount: Integer(row['amount']),
    created_at: row['created_at']
  }
end

def create_account(req)
  body = parse_body(req)
  owner = body['owner']
  balance = body['balance']
  raise HttpError.new(400, 'owner is required') if owner.nil?
  raise HttpError.new(400, 'owner must be a string') unless owner.is_a?(String)
  raise HttpError.new(400, 'owner must not be empty') if owner.strip.empty?
  raise HttpError.new(400, 'owner must be at most 200 characters') if owner.length > 200
  raise HttpError.new(400, 'balance is required') if balance.nil?
  unless balance.is_a?(Integer)
    raise HttpError.new(400, "balance must be a whole number of cents from 0 to #{MAX_CENTS}")
  end

  row = with_conn do |c|
    c.exec_params('INSERT INTO accounts (owner, balance) VALUES ($1, $2) RETURNING id, owner, balance',
                  [owner, balance]).first
  end
  [201, account_json(row)]
end

def get_account(id)
  row = with_conn do |c|
    c.exec_params('SELECT id, owner, balance FROM accounts WHERE id = $1', [id]).first
  end
  raise HttpError.new(404, "account #{id} does not exist") unless row

  [200, account_json(row)]
end

def list_transfers(id)
  rows = with_conn do |c|
    if c.exec_params('SELECT 1 FROM accounts WHERE id = $1', [id]).ntuples.zero?
      raise HttpError.new(404, "account #{id} does not exist")
    end

    c.exec_params("SELECT #{TRANSFER_COLUMNS} FROM transfers WHERE from_id = $1 OR to_id = $1 ORDER BY id",
                  [id]).to_a
  end
  [200, rows.map { |r| transfer_json(r) }]
end

def find_by_key(conn, key)
  conn.exec_params("SELECT #{TRANSFER_COLUMNS} FROM transfers WHERE idempotency_key = $1", [key]).first
end

# The answer to a retry: the stored transfer if the request is the same one.
def replay(row, from, to, amount)
  stored = transfer_json(row)
  unless stored[:from] == from && stored[:to] == to && stored[:amount] == amount
    raise HttpError.new(409, 'this Idempotency-Key was already used for a different transfer')
  end

  [200, stored]
end

def validate_transfer(req)
  key = req['Idempotency-Key']
  raise HttpError.new(400, 'the Idempotency-Key header is required') if key.nil? || key.strip.empty?
  raise HttpError.new(400, "the Idempotency-Key must be at most #{MAX_KEY} characters") if key.length > MAX_KEY

  body = parse_body(req)
  from = body['from']
  to = body['to']
  amount = body['amount']
  %w[from to amount].each { |f| raise HttpError.new(400, "#{f} is required") if body[f].nil? }
  raise HttpError.new(400, 'from and to must be account ids (integers)') unless from.is_a?(Integer) && to.is_a?(Integer)
  unless cents?(amount, 1)
    raise HttpError.new(400, "amount must be a whole number of cents from 1 to #{MAX_CENTS}")
  end
  raise HttpError.new(400, 'from and to must be different accounts') if from == to

  [key, from, to, amount]
end

def create_transfer(req)
  key, from, to, amount = validate_transfer(req)
  [from, to].each do |id|
    raise HttpError.new(404, "account #{id} does not exist") unless id.between?(1, MAX_ID)
  end

  with_conn do |c|
    c.transaction do
      # Lock both accounts, lowest id first: concurrent transfers between the same
      # accounts queue up here instead of deadlocking.
      balances = {}
      [from, to].sort.each do |id|
        row = c.exec_params('SELECT balance FROM accounts WHERE id = $1 FOR UPDATE', [id]).first
        raise HttpError.new(404, "account #{id} does not exist") unless row

        balances[id] = Integer(row['balance'])
      end
      # Checked under the locks: a retry that raced us sees our committed transfer.
      existing = find_by_key(c, key)
      next replay(existing, from, to, amount) if existing

      if balances[from] < amount
        raise HttpError.new(422, "insufficient funds: account #{from} holds #{balances[from]} cents")
      end

      c.exec_params('UPDATE accounts SET balance = balance - $2 WHERE id = $1', [from, amount])
      c.exec_params('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [to, amount])
      row = c.exec_params(<<~SQL, [from, to, amount, key]).first
        INSERT INTO transfers (from_id, to_id, amount, idempotency_key) VALUES ($1, $2, $3, $4)
        RETURNING #{TRANSFER_COLUMNS}
      SQL
      [201, transfer_json(row)]
    end
  rescue PG::UniqueViolation
    # The same key committed by a concurrent request on other accounts: the transaction
    # rolled back, answer with what is stored.
    replay(find_by_key(c, key), from, to, amount)
  end
end

# Routes every request.
class App < WEBrick::HTTPServlet::AbstractServlet
  def do_GET(req, res)
    handle(req, res)
  end

  def do_POST(req, res)
    handle(req, res)
  end

  private

  def handle(req, res)
    status, payload = route(req)
    send_json(res, status, payload)
  rescue HttpError => e
    send_json(res, e.status, { error: e.message })
  rescue StandardError => e
    warn "#{req.request_method} #{req.path}: #{e.class}: #{e.message}"
    send_json(res, 500, { error: 'internal error' })
  end

  def route(req)
    method = req.request_method
    path = req.path
    case [method, path]
    in ['GET', '/health'] then [200, { status: 'ok' }]
    in ['POST', '/accounts'] then create_account(req)
    in ['POST', '/transfers'] then create_transfer(req)
    else
      if (m = %r{\A/accounts/(\d+)\z}.match(path))
        raise HttpError.new(405, 'method not allowed') unless method == 'GET'

        get_account(path_id(m[1]))
      elsif (m = %r{\A/accounts/(\d+)/transfers\z}.match(path))
        raise HttpError.new(405, 'method not allowed') unless method == 'GET'

        list_transfers(path_id(m[1]))
      else
        raise HttpError.new(404, "no route for #{method} #{path}")
      end
    end
  end

  def send_json(res, status, payload)
    res.status = status
    res['Content-Type'] = 'application/json'
    res.body = JSON.generate(payload)
  end
end

port = Integer(ENV.fetch('PORT', '8080'))
server = WEBrick::HTTPServer.new(
  BindAddress: '0.0.0.0',
  Port: port,
  MaxClients: 200,
  DoNotReverseLookup: true,
  Logger: WEBrick::Log.new($stdout, WEBrick::Log::WARN),
  AccessLog: []
)
server.mount('/', App)
%w[TERM INT].each { |sig| trap(sig) { server.shutdown } }
puts "bank-ledger listening on 0.0.0.0:#{port}"
server.start
