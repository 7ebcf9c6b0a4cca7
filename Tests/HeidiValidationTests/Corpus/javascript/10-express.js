const express = require("express");
const app = express();

app.use(express.json());

app.get("/users/:id", async (req, res) => {
  const user = await findUser(req.params.id);
  if (!user) {
    return res.status(404).json({ error: "not found" });
  }
  res.json(user);
});

app.listen(3000, () => console.log("listening on 3000"));
