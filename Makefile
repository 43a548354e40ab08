# The two commands: `make run` (the stack on http://127.0.0.1:3000) and `make test`.
.PHONY: run test down install bench stress deploy-check sim

run:
	bash localstack/stack.sh run

test:
	bash localstack/test.sh

# The deterministic simulation alone: SIM_SEEDS (10000), SIM_SEED_START (0); SIM_SEED=N
# replays one seed with its trace.
sim:
	cargo run --quiet -p sim

# The performance benchmark: prints a table and writes BENCHMARKS.md (starts the stack if needed).
bench:
	bash localstack/bench.sh

# N checkouts at once (STRESS_ORDERS, 500), then every order accounted for across the tables
# (starts the stack if needed).
stress:
	bash localstack/stress.sh

# sam build of every function (serial, host architecture), sam validate --lint, cfn-lint:
# what a deploy needs, without an AWS account (localstack/deploy-check.sh).
deploy-check:
	bash localstack/deploy-check.sh

# Stops a stack left running by `localstack/stack.sh up`.
down:
	bash localstack/stack.sh down

install:
	bash localstack/stack.sh install
