import asyncio


async def fetch(delay, value):
    await asyncio.sleep(delay)
    return value * 2


async def main():
    results = await asyncio.gather(*(fetch(0.1, i) for i in range(5)))
    print(results)


asyncio.run(main())
