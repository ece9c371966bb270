from cc_console.cli import run

run()
