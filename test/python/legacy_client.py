# The guide's legacy client ("تست عملکرد" in enhanced-websocket-handler-guide.fa.md), unchanged
# except that the uri comes from argv[1] or MODELNODE_URI (default: the guide's own), and it runs.
import asyncio
import json
import os
import sys

import websockets

URI = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MODELNODE_URI", "ws://localhost:8702")


# تست legacy client
async def test_legacy():
    uri = URI
    async with websockets.connect(uri) as websocket:
        message = {
            "session_id": "test",
            "step": 0,
            "input_tensors": {"input_ids": "Hello"}
        }
        await websocket.send(json.dumps(message))
        response = await websocket.recv()
        print("Legacy response:", response)


if __name__ == "__main__":
    asyncio.run(test_legacy())
