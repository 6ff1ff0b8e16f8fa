"""The composition root: one Durable Functions app with every blueprint registered. Nothing else."""

import azure.durable_functions as df
import azure.functions as func

from triggers import health

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (health.bp,):
    app.register_functions(blueprint)
