def test_demo_loads(demo):
    assert demo.data_point_types.count() == 3
