# The two commands: `make run` (the stack on http://127.0.0.1:3000) and `make test`.
.PHONY: run test down install

run:
	bash localstack/stack.sh run

test:
	bash localstack/test.sh

# Stops a stack left running by `localstack/stack.sh up`.
down:
	bash localstack/stack.sh down

install:
	bash localstack/stack.sh install
