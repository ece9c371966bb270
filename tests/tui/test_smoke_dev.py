from tests.tui.conftest import loaded

async def test_smoke(console_app):
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        app.save_screenshot("/tmp/shot.svg")
        await pilot.press("2")
        await pilot.press("enter")
        await pilot.pause(0.5)
        app.save_screenshot("/tmp/shot2.svg")
