print("heidi-collect: not built yet")
