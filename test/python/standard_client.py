# The guide's standard-protocol client ("تست عملکرد" in enhanced-websocket-handler-guide.fa.md),
# unchanged except that the uri comes from argv[1] or MODELNODE_URI (default: the guide's own),
# and it runs.
import asyncio
import json
import os
import sys

import websockets

URI = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MODELNODE_URI", "ws://localhost:8702")


# تست standard protocol client
async def test_protocol():
    uri = URI
    async with websockets.connect(uri) as websocket:
        message = {
            "header": {
                "message_id": "test-123",
                "message_type": "inference_request",
                "protocol_version": "2.0",
                "timestamp": "2024-01-01T12:00:00Z"
            },
            "model_id": "test_model",
            "prompt": "Hello, world!"
        }
        await websocket.send(json.dumps(message))
        response = await websocket.recv()
        print("Protocol response:", response)


if __name__ == "__main__":
    asyncio.run(test_protocol())
